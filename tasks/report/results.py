"""The model results tables: NER over seeds and its committed run, tags over seeds.

Every ``±`` is the sample standard deviation over seeds (tasks/common/stats.py), computed
here from the per-seed figures the files keep, so a table never depends on which std a
metrics file stored.
"""
from __future__ import annotations

import statistics
from pathlib import Path

from tasks.common.stats import format_mean_std, mean_std
from tasks.report.markdown import Source, block, load, pct, table

NER_SEEDS = "metrics/ner_seeds.json"
NER_RUNS = "benchmarks/results/ner_seeds"
NER_METRICS = "metrics/ner.json"
NER_HISTORY = "plots/ner/history.csv"
TAGS_METRICS = "metrics/tags.json"
ORIGINAL_NER_F1 = 82.69  # the original system's claimed test F1 (shared/REFERENCE.md)
NER_VARIANTS = {  # benchmarks/ner_seeds.py variant -> what it is (rows are ranked by dev, so each names its base)
    "graph": "BiLSTM + char CNN + gated GCN over dependency arcs and document edges + CRF, IOBES",
    "no_graph": "`graph` without the GCN (`gcn_layers: 0`, ablation)",
    "dependency_arcs_only": "`graph` without document edges (`doc_neighbours: 0`)",
    "document_edges_only": "`graph` without dependency arcs (`dependency_arcs: false`)",
    "graph_word_dropout": "`graph` with singleton UNK (`ner.train.word_dropout: 0.5`)",
    "graph_clip_norm": "`graph` with gradient normalisation (`ner.train.clip_norm: 1.0`)",
    "no_graph_clip_norm": "`graph_clip_norm` without the GCN (ablation)",
    "dependency_arcs_only_clip_norm": "`graph_clip_norm` without document edges (`doc_neighbours: 0`)",
    "document_edges_only_clip_norm": "`graph_clip_norm` without dependency arcs (`dependency_arcs: false`)",
    "graph_lr_decay": "`graph` with a decaying learning rate (`ner.train.lr_decay: 0.05`)",
    "default_crf": "previous default, sentence-level: BiLSTM + char CNN + dependency GCN + CRF, IOB2",
    "default_crf_no_gcn": "`default_crf` without the GCN (ablation)",
    "default_softmax": "`default_crf` with a softmax output (`output: dense`)",
    "seed_readme": "the original README's model",
    "seed_train": "the original `train.py`",
}
# variant -> the same without its GCN
NER_ABLATION = {"graph": "no_graph", "graph_clip_norm": "no_graph_clip_norm", "default_crf": "default_crf_no_gcn"}
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


def _tag_label(name: str, preset: str) -> str:
    return TAG_METHODS.get(name, name).format(preset=preset)


def _tag_cell(m: dict, name: str, key: str) -> str:
    per_seed = m[name]["per_seed"]
    if key not in next(iter(per_seed.values()))["test"]:
        return "—"
    return _seed_stat({s: r["test"] for s, r in per_seed.items()}, key, scale=1, digits=4)


def best_learned(m: dict) -> str:
    """The learned-graph method with the best validation LRAP (mean over seeds)."""
    return max((n for n in LEARNED_GRAPH if n in m), key=lambda n: m[n]["validation"]["lrap"])


def _seed_stat(per_seed: dict, key: str, scale: float = 100, digits: int = 2) -> str:
    """mean ± sample std over the seeds; one seed has no spread, so its value stands alone."""
    values = [run[key] for run in per_seed.values()]
    if len(values) == 1:
        return f"{values[0] * scale:.{digits}f}"
    return format_mean_std(*mean_std(values), digits=digits, scale=scale)


def ner_variant_label(variant: str, default: str | None) -> str:
    """``variant``: what it is; the default (what params.yaml trains) in bold."""
    name = f"**`{variant}` (default)**" if variant == default else f"`{variant}`"
    return f"{name}: {NER_VARIANTS.get(variant, '')}".rstrip(": ")


def _seeds(runs: dict) -> str:
    return f"{len(runs)} seed{'s' * (len(runs) > 1)}"


def ner_run_files(root: Path, variant: str) -> list[dict]:
    return [load(root, str(p.relative_to(root))) for p in sorted((root / NER_RUNS).glob(f"{variant}-seed*.json"))]


def ner_seeds(root: Path) -> str:
    summary = load(root, NER_SEEDS)
    rows, backends = [], set()
    for variant in summary["ranked_by_dev_f1"]:
        runs = ner_run_files(root, variant)
        backends |= {r["backend"] for r in runs}
        per_seed = {str(r["seed"]): r for r in runs}
        rows.append([ner_variant_label(variant, summary["default"]), ", ".join(per_seed),
                     _seed_stat(per_seed, "dev_f1"), _seed_stat(per_seed, "test_f1"),
                     _seed_stat(per_seed, "test_precision"),
                     " / ".join(pct(r["test_f1"]) for r in runs),
                     f"{mean_std(r['epochs_run'] for r in runs)[0]:.0f}"])
    body = table(["variant", "seeds", "dev F1", "test F1", "test precision", "test F1 per seed", "epochs run"], rows)
    command = ("python benchmarks/ner_seeds.py --variants " + " ".join(summary["ranked_by_dev_f1"]) +
               f" (KERAS_BACKEND={'/'.join(sorted(backends))})")
    return block(body, Source((NER_SEEDS, f"{NER_RUNS}/*.json"), command))


def ner_paired(root: Path) -> str:
    """The default minus every other variant, then each other variant minus its own
    no-graph ablation (what the graph adds under that recipe), paired by seed."""
    best = load(root, NER_SEEDS)["default"]
    # Which variants ran, from the run files too (the summary may predate a run); each
    # variant's files read once.
    ran = sorted({p.name.rsplit("-seed", 1)[0] for p in (root / NER_RUNS).glob("*-seed*.json")})
    by_seed = {v: {r["seed"]: r for r in ner_run_files(root, v)} for v in ran}
    pairs = [(best, other) for other in ran if other != best]
    pairs += [(v, a) for v, a in NER_ABLATION.items() if v != best and v in ran and a in ran]
    rows = []
    for a, b in pairs:
        diffs = _paired(by_seed.get(a, {}), by_seed[b])  # the default may have no run yet
        if not diffs:  # no seed in common: nothing to pair
            continue
        dev, test = (mean_std([d[key] for d in diffs.values()]) for key in ("dev_f1", "test_f1"))
        ahead = sum(d["test_f1"] > 0 for d in diffs.values())
        rows.append([f"`{a}` − `{b}`", ", ".join(map(str, diffs)),
                     _signed(dev, len(diffs)), _signed(test, len(diffs)), f"{ahead} of {len(diffs)}"])
    body = table(["difference (paired by seed)", "seeds", "dev F1", "test F1", "seeds where test F1 is ahead"], rows)
    return block(body, Source((f"{NER_RUNS}/*.json",)))


def _signed(stat: tuple[float, float], n: int) -> str:
    """A paired difference in F1 points: ``+0.21 ± 0.31``; one seed has no spread."""
    return f"{stat[0] * 100:+.2f}" + (f" ± {stat[1] * 100:.2f}" if n > 1 else "")


def _paired(a: dict[int, dict], b: dict[int, dict]) -> dict[int, dict[str, float]]:
    """{seed: {dev_f1, test_f1}: a's minus b's} over the seeds both runs have."""
    return {s: {k: a[s][k] - b[s][k] for k in ("dev_f1", "test_f1")} for s in sorted(a) if s in b}


def ner_committed(root: Path) -> str:
    m = load(root, NER_METRICS)
    rows = [[split, pct(m[split]["precision"]), pct(m[split]["recall"]), f"**{pct(m[split]['f1'])}**",
             *(pct(m[split]["per_type"][t]["f1"]) for t in ("PER", "LOC", "ORG", "MISC"))]
            for split in ("dev", "test")]
    body = table(["split", "precision", "recall", "F1", "PER F1", "LOC F1", "ORG F1", "MISC F1"], rows)
    body += (f"\n\nBest epoch {m['best_epoch']} of {m['epochs_run']} (chosen on dev F1, seed 42, "
             "params.yaml as committed).")
    return block(body, Source((NER_METRICS,), "dvc repro train_ner"))


def _tags_table(m: dict, preset: str) -> str:
    setup, best = m["setup"], best_learned(m)
    methods = [n for n in TAG_METHODS if n in m] + [n for n in m if n != "setup" and n not in TAG_METHODS]
    rows = []
    for name in methods:
        cells = [_tag_cell(m, name, k) for k in TAG_METRICS]
        if name == best:
            cells = [c if c == "—" else f"**{c}**" for c in cells]
        rows.append([_tag_label(name, preset), *cells, f"{m[name]['validation']['lrap']:.4f}"])
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
    rows = [[f"{_tag_label(a, preset)} − {_tag_label(b, preset)}", *_tag_differences(m, a, b)] for a, b in pairs]
    return table(["difference (paired by seed, test)", "LRAP", "macro F1, thresholded", "seeds ahead (LRAP / F1)"],
                 rows)


def _tag_differences(m: dict, a: str, b: str, keys=("lrap", "macro_f1_thresholded")) -> list[str]:
    seeds = sorted(set(m[a]["per_seed"]) & set(m[b]["per_seed"]))
    diffs = {k: [m[a]["per_seed"][s]["test"][k] - m[b]["per_seed"][s]["test"][k] for s in seeds] for k in keys}
    cells = ["{:+.4f} ± {:.4f}".format(*mean_std(d)) for d in diffs.values()]
    ahead = [f"{sum(d > 0 for d in diffs[k])} of {len(seeds)}" for k in keys]
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
    body += f"\n\nThe first rows compare the best learned graph model on validation ({_tag_label(best, preset)})."
    return block(body, Source((TAGS_METRICS, TAGS_SAGE)))


def summary(root: Path) -> str:
    """README's front-page table: the headline figure of each half."""
    seeds, ner, tag = load(root, NER_SEEDS), load(root, NER_METRICS), load(root, TAGS_METRICS)
    best = seeds["default"]
    runs = {str(r["seed"]): r for r in ner_run_files(root, best)}
    no_graph = {str(r["seed"]): r for r in ner_run_files(root, NER_ABLATION.get(best, ""))}
    learned = best_learned(tag)
    preset = load(root, TAGS_SAGE)["preset"]

    def cell(name: str, key: str) -> str:
        return f"{_tag_label(name, preset)} {_tag_cell(tag, name, key)}"

    rows = [
        ["NER, CoNLL-2003 test span F1", f"original claim {ORIGINAL_NER_F1}",
         f"**{_seed_stat(runs, 'test_f1')}** ({_seeds(runs)}); committed run {pct(ner['test']['f1'])}",
         f"without the GCN {_seed_stat(no_graph, 'test_f1')} ({_seeds(no_graph)})" if no_graph
         else "without the GCN: not run yet"],
        ["Tags, citeulike-t test macro F1 (thresholded)", cell("text", "macro_f1_thresholded"),
         f"**{cell(learned, 'macro_f1_thresholded')}**", cell("label_propagation", "macro_f1_thresholded")],
        ["Tags, citeulike-t test LRAP", cell("text", "lrap"), f"**{cell(learned, 'lrap')}**",
         cell("label_propagation", "lrap")],
    ]
    body = table(["result", "baseline", "ours (mean ± sample std over seeds)", "ablation / graph baseline"], rows)
    return block(body, Source((NER_SEEDS, NER_METRICS, TAGS_METRICS, TAGS_SAGE)))


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


def ner_stage_time(root: Path) -> str:
    """How long a ``train_ner`` run takes, from the seed runs' own clocks (a resumed run's
    clock covers only its last part, so it is left out)."""
    rows, machines, summary = [], set(), load(root, NER_SEEDS)
    for variant in summary["ranked_by_dev_f1"]:
        runs = [r for r in ner_run_files(root, variant) if "resumed_after_epoch" not in r]
        if not runs:
            continue
        machines |= {r["machine"] for r in runs if "machine" in r}
        minutes = [r["seconds"] / 60 for r in runs]
        spread = f"({min(minutes):.0f}-{max(minutes):.0f})"
        rows.append([ner_variant_label(variant, summary["default"]), str(len(runs)),
                     f"{format_mean_std(*mean_std(minutes), digits=1, scale=1)} {spread}",
                     f"{mean_std(r['epochs_run'] for r in runs)[0]:.0f}",
                     f"{mean_std(r['seconds'] / r['epochs_run'] for r in runs)[0]:.0f} s"])
    body = table(["variant", "runs timed", "minutes per run (range)", "epochs run", "seconds per epoch"], rows)
    epochs = committed_epoch_seconds(root)
    body += (f"\n\nThe committed model's own run (`dvc repro train_ner`, `{NER_HISTORY}`): {len(epochs)} epochs, "
             f"{sum(epochs) / 60:.1f} min of epochs, median {statistics.median(epochs):.1f} s per epoch.")
    command = "python benchmarks/ner_seeds.py; dvc repro train_ner"
    return block(body, Source((f"{NER_RUNS}/*.json", NER_HISTORY), command, ", ".join(sorted(machines))))


def committed_epoch_seconds(root: Path) -> list[float]:
    """Seconds of each epoch of the committed train_ner run (its history file)."""
    import csv

    with open(root / NER_HISTORY, newline="") as f:
        return [float(row["seconds"]) for row in csv.DictReader(f)]


TABLES = {"summary": summary, "ner-seeds": ner_seeds, "ner-paired": ner_paired, "ner-committed": ner_committed,
          "ner-stage-time": ner_stage_time,
          "tags": tags, "tags-paired": tags_paired, "tags-timing": tags_timing, "tags-minilm": tags_minilm}
