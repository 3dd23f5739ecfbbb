"""The model results tables: NER over seeds and its committed run, tags over seeds.

Every ``±`` is the sample standard deviation over seeds (tasks/common/stats.py), computed
here from the per-seed figures the files keep, so a table never depends on which std a
metrics file stored.
"""
from __future__ import annotations

from pathlib import Path

from tasks.common.stats import format_mean_std, mean_std
from tasks.report.markdown import Source, block, load, pct, table

NER_SEEDS = "metrics/ner_seeds.json"
NER_RUNS = "benchmarks/results/ner_seeds"
NER_METRICS = "metrics/ner.json"
TAGS_METRICS = "metrics/tags.json"
ORIGINAL_NER_F1 = 82.69  # the original system's claimed test F1 (shared/REFERENCE.md)
NER_VARIANTS = {  # benchmarks/ner_seeds.py variant -> what it is
    "default_crf": "**`default`**: BiLSTM + char CNN + dependency GCN + CRF",
    "default_crf_no_gcn": "the same without the GCN (`gcn_layers: 0`, ablation)",
    "default_softmax": "the same with a softmax output (`output: dense`)",
    "seed_readme": "`seed_readme`: the original README's model",
    "seed_train": "`seed_train`: the original `train.py`",
}
TAG_SETS = {"text": "text (TF-IDF GloVe 50-d)", "propagation": "propagation `[X, ÂX, Â²X]` (no training)",
            "graphsage": "GraphSAGE (`default` preset)", "concat": "**concat** (text + GraphSAGE)"}
TAG_METRICS = ("macro_precision", "macro_f1", "lrap", "precision_at_1", "micro_f1")


def _seed_stat(per_seed: dict, key: str, scale: float = 100, digits: int = 2) -> str:
    return format_mean_std(*mean_std(run[key] for run in per_seed.values()), digits=digits, scale=scale)


def _ner_run_files(root: Path, variant: str) -> list[dict]:
    return [load(root, str(p.relative_to(root))) for p in sorted((root / NER_RUNS).glob(f"{variant}-seed*.json"))]


def ner_seeds(root: Path) -> str:
    summary = load(root, NER_SEEDS)
    rows, backends = [], set()
    for variant in summary["ranked_by_dev_f1"]:
        runs = _ner_run_files(root, variant)
        backends |= {r["backend"] for r in runs}
        per_seed = {str(r["seed"]): r for r in runs}
        rows.append([NER_VARIANTS.get(variant, variant), ", ".join(per_seed), _seed_stat(per_seed, "dev_f1"),
                     _seed_stat(per_seed, "test_f1"), _seed_stat(per_seed, "test_precision"),
                     " / ".join(pct(r["test_f1"]) for r in runs),
                     f"{mean_std(r['epochs_run'] for r in runs)[0]:.0f}"])
    body = table(["variant", "seeds", "dev F1", "test F1", "test precision", "test F1 per seed", "epochs run"], rows)
    command = ("python benchmarks/ner_seeds.py --variants " + " ".join(summary["ranked_by_dev_f1"]) +
               f" (KERAS_BACKEND={'/'.join(sorted(backends))})")
    return block(body, Source((NER_SEEDS, f"{NER_RUNS}/*.json"), command))


def ner_paired(root: Path) -> str:
    summary = load(root, NER_SEEDS)
    best = summary["ranked_by_dev_f1"][0]
    rows = []
    for other, diff in summary["paired_vs_best"].items():
        test_diffs = _paired(root, best, other, "test_f1")
        dev, test = mean_std(_paired(root, best, other, "dev_f1")), mean_std(test_diffs)
        ahead = sum(d > 0 for d in test_diffs)
        rows.append([f"`{best}` − `{other}`", ", ".join(map(str, diff["seeds"])),
                     f"{dev[0] * 100:+.2f} ± {dev[1] * 100:.2f}", f"{test[0] * 100:+.2f} ± {test[1] * 100:.2f}",
                     f"{ahead} of {len(diff['seeds'])}"])
    body = table(["difference (paired by seed)", "seeds", "dev F1", "test F1", "seeds where test F1 is ahead"], rows)
    return block(body, Source((f"{NER_RUNS}/*.json",)))


def _paired(root: Path, best: str, other: str, key: str) -> list[float]:
    a = {r["seed"]: r[key] for r in _ner_run_files(root, best)}
    b = {r["seed"]: r[key] for r in _ner_run_files(root, other)}
    return [a[s] - b[s] for s in sorted(a) if s in b]


def ner_committed(root: Path) -> str:
    m = load(root, NER_METRICS)
    rows = [[split, pct(m[split]["precision"]), pct(m[split]["recall"]), f"**{pct(m[split]['f1'])}**",
             *(pct(m[split]["per_type"][t]["f1"]) for t in ("PER", "LOC", "ORG", "MISC"))]
            for split in ("dev", "test")]
    body = table(["split", "precision", "recall", "F1", "PER F1", "LOC F1", "ORG F1", "MISC F1"], rows)
    body += (f"\n\nBest epoch {m['best_epoch']} of {m['epochs_run']} (chosen on dev F1, seed 42, "
             "params.yaml as committed).")
    return block(body, Source((NER_METRICS,), "dvc repro train_ner"))


def tags(root: Path) -> str:
    m = load(root, TAGS_METRICS)
    setup = m["setup"]
    best = max(TAG_SETS, key=lambda s: m[s]["lrap"])
    rows = []
    for name, label in TAG_SETS.items():
        per_seed = {s: r["test"] for s, r in m[name]["per_seed"].items()}
        cells = [_seed_stat(per_seed, k, scale=1, digits=4) for k in TAG_METRICS]
        if name == best:
            cells = [f"**{c}**" for c in cells]
        rows.append([label, *cells, f"{mean_std(r['mean_predicted_tags'] for r in per_seed.values())[0]:.2f} / "
                                    f"{m[name]['mean_true_tags']:.2f}"])
    body = table(["features", "macro precision", "macro F1", "LRAP", "precision@1", "micro F1",
                  "tags predicted / true"], rows)
    body += (f"\n\n{setup['target_tags']} tags, {setup['articles']:,} tagged articles; per seed a split of "
             f"{setup['train']:,} train / {setup['validation']:,} validation / {setup['test']:,} test; seeds "
             f"{', '.join(map(str, setup['seeds']))}. Test mean ± sample std over seeds.")
    return block(body, Source((TAGS_METRICS,), "dvc repro evaluate_tags"))


def tags_paired(root: Path) -> str:
    m = load(root, TAGS_METRICS)
    pairs = [("graphsage", "text"), ("concat", "propagation"), ("graphsage", "propagation"),
             ("propagation", "text"), ("concat", "text")]
    rows = []
    for a, b in pairs:
        seeds = sorted(set(m[a]["per_seed"]) & set(m[b]["per_seed"]))
        diffs = {k: [m[a]["per_seed"][s]["test"][k] - m[b]["per_seed"][s]["test"][k] for s in seeds]
                 for k in ("macro_f1", "lrap")}
        cells = ["{:+.4f} ± {:.4f}".format(*mean_std(d)) for d in diffs.values()]
        rows.append([f"{a} − {b}", *cells, f"{sum(d > 0 for d in diffs['macro_f1'])} of {len(seeds)}"])
    body = table(["difference (paired by seed, test)", "macro F1", "LRAP", "seeds where macro F1 is ahead"], rows)
    return block(body, Source((TAGS_METRICS,)))


def summary(root: Path) -> str:
    """README's front-page table: the headline figure of each half."""
    seeds, ner, tag = load(root, NER_SEEDS), load(root, NER_METRICS), load(root, TAGS_METRICS)
    best = seeds["ranked_by_dev_f1"][0]
    runs = {str(r["seed"]): r for r in _ner_run_files(root, best)}
    no_graph = {str(r["seed"]): r for r in _ner_run_files(root, "default_crf_no_gcn")}
    per = {name: {s: r["test"] for s, r in tag[name]["per_seed"].items()} for name in TAG_SETS}
    rows = [
        ["NER, CoNLL-2003 test span F1", f"original claim {ORIGINAL_NER_F1}",
         f"**{_seed_stat(runs, 'test_f1')}** ({len(runs)} seeds); committed run {pct(ner['test']['f1'])}",
         f"without the GCN {_seed_stat(no_graph, 'test_f1')}" if no_graph else "—"],
        ["Tags, citeulike-t test macro F1", f"text {_seed_stat(per['text'], 'macro_f1', 1, 4)}",
         f"**concat {_seed_stat(per['concat'], 'macro_f1', 1, 4)}**",
         f"propagation {_seed_stat(per['propagation'], 'macro_f1', 1, 4)}"],
        ["Tags, citeulike-t test LRAP", f"text {_seed_stat(per['text'], 'lrap', 1, 4)}",
         f"**concat {_seed_stat(per['concat'], 'lrap', 1, 4)}**",
         f"propagation {_seed_stat(per['propagation'], 'lrap', 1, 4)}"],
    ]
    body = table(["result", "baseline", "ours (mean ± sample std over seeds)", "ablation / graph baseline"], rows)
    return block(body, Source((NER_SEEDS, NER_METRICS, TAGS_METRICS)))


TABLES = {"summary": summary, "ner-seeds": ner_seeds, "ner-paired": ner_paired, "ner-committed": ner_committed,
          "tags": tags, "tags-paired": tags_paired}
