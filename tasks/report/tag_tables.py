"""The tag results tables: every method over seeds, paired differences, the MiniLM
run, and where the tags half spends its time (sample std over seeds, as for NER).
"""
from __future__ import annotations

from pathlib import Path

from tasks.common.stats import mean_std
from tasks.report.markdown import Source, block, load, paired_by_seed, seed_stat, table

TAGS_METRICS = "metrics/tags.json"
TAGS_SAGE = "metrics/tags_sage.json"
# metrics/tags.json method -> what it is; ``{preset}`` is the served GraphSAGE preset.
TAG_METHODS = {
    "text": "text (the text embeddings)",
    "propagation": "propagation `[X, ÂX, Â²X]` (no training)",
    "label_propagation": "label propagation (train tags only, no text)",
    "text_cs": "text + C&S",
    "propagation_cs": "propagation + C&S",
    "label_reuse": "label reuse: text + train tags `[ÂY, Â²Y]`, own tags masked",
    "label_reuse_cs": "label reuse + C&S",
    "graphsage_random": "GraphSAGE, random weights (control)",
    "graphsage_gds": "GraphSAGE `gds` (the original's)",
    "graphsage_default": "GraphSAGE `default` (unsupervised)",
    "graphsage_supervised": "GraphSAGE `supervised`",
    "graphsage": "GraphSAGE `{preset}` (served)",
    "graphsage_cs": "GraphSAGE `{preset}` + C&S",
    "concat": "concat: text + GraphSAGE `{preset}`",
    "concat_cs": "concat + C&S",
}
TAG_METRICS = ("lrap", "precision_at_1", "macro_f1_thresholded", "macro_precision", "macro_f1")
LEARNED_GRAPH = ("graphsage", "graphsage_cs", "concat", "concat_cs")  # learned on the graph (the served preset)
# label-aware, nothing learned on the graph:
LABEL_BASELINES = ("label_propagation", "text_cs", "propagation_cs", "label_reuse", "label_reuse_cs")


def tag_label(name: str, preset: str) -> str:
    return TAG_METHODS.get(name, name).format(preset=preset)


def tag_cell(m: dict, name: str, key: str) -> str:
    per_seed = m[name]["per_seed"]
    if key not in next(iter(per_seed.values()))["test"]:
        return "—"
    return seed_stat({s: r["test"] for s, r in per_seed.items()}, key, scale=1, digits=4)


def best_learned(m: dict) -> str:
    """The learned-graph method with the best validation LRAP (mean over seeds)."""
    return max((n for n in LEARNED_GRAPH if n in m), key=lambda n: m[n]["validation"]["lrap"])



def _tags_table(m: dict, preset: str) -> str:
    setup, best = m["setup"], best_learned(m)
    methods = [n for n in TAG_METHODS if n in m] + [n for n in m if n != "setup" and n not in TAG_METHODS]
    rows = []
    for name in methods:
        cells = [tag_cell(m, name, k) for k in TAG_METRICS]
        if name == best:
            cells = [c if c == "—" else f"**{c}**" for c in cells]
        rows.append([tag_label(name, preset), *cells, f"{m[name]['validation']['lrap']:.4f}"])
    body = table(["method", "LRAP", "precision@1", "macro F1, thresholded", "LabelPowerset macro precision",
                  "LabelPowerset macro F1", "validation LRAP"], rows)
    return body + (f"\n\n{setup['target_tags']} tags, {setup['articles']:,} tagged articles; per seed a split of "
                   f"{setup['train']:,} train / {setup['validation']:,} validation / {setup['test']:,} test; seeds "
                   f"{', '.join(map(str, setup['seeds']))}. Test mean ± sample std over seeds. Thresholded: one "
                   "threshold per tag chosen on validation, the rule every method shares; LabelPowerset: the "
                   "original's tag sets (classifier rows only). Bold: the learned graph model with the best "
                   "validation LRAP.")


def tags(root: Path) -> str:
    body = _tags_table(load(root, TAGS_METRICS), load(root, TAGS_SAGE)["preset"])
    return block(body, Source((TAGS_METRICS, TAGS_SAGE), "dvc repro evaluate_tags"))


def tags_minilm(root: Path) -> str:
    """The same tables on MiniLM text features (benchmarks/tags_encoder.py minilm)."""
    rel = "benchmarks/results/tags_minilm.json"
    run = load(root, rel)
    m, preset = run["tags"], run["sage"]["preset"]
    pairs = [(best_learned(m), b) for b in (*LABEL_BASELINES, "text") if b in m]  # an older run may lack a row
    body = _tags_table(m, preset) + "\n\n" + _differences_table(m, preset, pairs)
    return block(body, Source((rel,), run["command"], run["machine"], run["date"]))


def _differences_table(m: dict, preset: str, pairs: list[tuple[str, str]]) -> str:
    rows = [[f"{tag_label(a, preset)} − {tag_label(b, preset)}", *_tag_differences(m, a, b)] for a, b in pairs]
    return table(["difference (paired by seed, test)", "LRAP", "macro F1, thresholded", "seeds ahead (LRAP / F1)"],
                 rows)


def _tag_differences(m: dict, a: str, b: str, keys=("lrap", "macro_f1_thresholded")) -> list[str]:
    test = lambda method: {s: run["test"] for s, run in m[method]["per_seed"].items()}  # noqa: E731
    paired = paired_by_seed(test(a), test(b), keys)
    diffs = {k: [d[k] for d in paired.values()] for k in keys}
    cells = ["{:+.4f} ± {:.4f}".format(*mean_std(d)) for d in diffs.values()]
    ahead = [f"{sum(d > 0 for d in diffs[k])} of {len(paired)}" for k in keys]
    return [*cells, " / ".join(ahead)]


def tags_paired(root: Path) -> str:
    m = load(root, TAGS_METRICS)
    preset = load(root, TAGS_SAGE)["preset"]
    best = best_learned(m)
    pairs = [(best, b) for b in (*LABEL_BASELINES, "text", "propagation") if b in m]
    pairs += [(a, b) for a, b in (("graphsage", "graphsage_default"), ("graphsage", "graphsage_random"),
                                  ("graphsage_default", "graphsage_random"), ("graphsage_default", "graphsage_gds"),
                                  ("graphsage_gds", "graphsage_random"), ("concat", "text"))
              if a in m and b in m and a != b]
    body = _differences_table(m, preset, pairs)
    body += f"\n\nThe first rows compare the best learned graph model on validation ({tag_label(best, preset)})."
    return block(body, Source((TAGS_METRICS, TAGS_SAGE)))



def tags_timing(root: Path) -> str:
    """Where the tags half spends its time: GraphSAGE per preset, LabelPowerset, the rest."""
    m, sage = load(root, TAGS_METRICS)["setup"], load(root, TAGS_SAGE)
    presets = {sage["preset"]: sage["per_seed"], **sage.get("compare", {})}
    rows = [[f"train_sage: GraphSAGE `{name}`", f"{len(runs)} seeds",
             f"{sum(r['train_seconds'] + r['embed_seconds'] for r in runs.values()):.0f} s"]
            for name, runs in presets.items()]
    rows += [["evaluate_tags: LabelPowerset fits (summed)", f"{m['labelpowerset_fits']} fits",
              f"{m['labelpowerset_fit_seconds']:.0f} s"],
             ["evaluate_tags: the same fits, wall time (2 at once)",
              f"{m['labelpowerset_wall_seconds'] / m['evaluate_seconds']:.0%} of the stage",
              f"{m['labelpowerset_wall_seconds']:.0f} s"],
             *label_aware_rows(m),
             ["evaluate_tags in all (inputs loaded to results ready; start-up and writing aside)", "",
              f"{m['evaluate_seconds']:.0f} s"]]
    body = table(["step", "runs", "seconds"], rows)
    return block(body, Source((TAGS_METRICS, TAGS_SAGE), "dvc repro evaluate_tags"))


def label_aware_rows(m: dict) -> list[list[str]]:
    """Label propagation and C&S, run beside the fits in the stage's own process, and the
    wall time of the two together."""
    return [["evaluate_tags: label propagation and C&S (every α searched), in the stage's process while the "
             "fits run (their own seconds, summed)", f"{len(m['seeds'])} seeds", f"{m['label_aware_seconds']:.0f} s"],
            ["evaluate_tags: fits and label-aware methods together, wall time", "",
             f"{m['fits_and_label_aware_seconds']:.0f} s"]]



TABLES = {"tags": tags, "tags-paired": tags_paired, "tags-timing": tags_timing, "tags-minilm": tags_minilm}
