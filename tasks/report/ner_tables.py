"""The NER results tables: the seed runs of every variant, their paired differences,
the committed run, and how long a train_ner run takes.

Every ``±`` is the sample standard deviation over seeds (tasks/common/stats.py), computed
here from the per-seed figures the files keep, so a table never depends on which std a
metrics file stored.
"""
from __future__ import annotations

import statistics
from pathlib import Path

from tasks.common.stats import format_mean_std, mean_std
from tasks.report.markdown import Source, block, load, paired_by_seed, pct, seed_stat, table

NER_SEEDS = "metrics/ner_seeds.json"
NER_RUNS = "benchmarks/results/ner_seeds"
NER_METRICS = "metrics/ner.json"
NER_HISTORY = "plots/ner/history.csv"
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
    "graph_clip_norm_lr_decay": "`graph_clip_norm` with a decaying learning rate (`ner.train.lr_decay: 0.05`)",
    "graph_clip_norm_batch64_word_dropout_lr_decay": "`graph_clip_norm_batch64_word_dropout` with a decaying "
                                                     "learning rate (`ner.train.lr_decay: 0.05`)",
    "graph_clip_norm_word_dropout": "`graph_clip_norm` with singleton UNK (`ner.train.word_dropout: 0.5`)",
    "graph_clip_norm_batch64": "`graph_clip_norm` on batches (and document windows) of 64 sentences "
                               "(`ner.train.batch_size: 64`)",
    "no_graph_clip_norm_batch64": "`graph_clip_norm_batch64` without the GCN (ablation)",
    "graph_clip_norm_batch64_word_dropout": "`graph_clip_norm_batch64` with singleton UNK "
                                            "(`ner.train.word_dropout: 0.5`)",
    "no_graph_clip_norm_batch64_word_dropout": "`graph_clip_norm_batch64_word_dropout` without the GCN (ablation)",
    "default_crf": "previous default, sentence-level: BiLSTM + char CNN + dependency GCN + CRF, IOB2",
    "default_crf_no_gcn": "`default_crf` without the GCN (ablation)",
    "default_softmax": "`default_crf` with a softmax output (`output: dense`)",
    "seed_readme": "the original README's model",
    "seed_train": "the original `train.py`",
}
# variant -> the same without its GCN
NER_ABLATION = {"graph": "no_graph", "graph_clip_norm": "no_graph_clip_norm",
                "graph_clip_norm_batch64": "no_graph_clip_norm_batch64",
                "graph_clip_norm_batch64_word_dropout": "no_graph_clip_norm_batch64_word_dropout",
                "default_crf": "default_crf_no_gcn"}
# Earlier defaults, newest first: their comparisons with every other variant stay in the
# paired table after the default's, since the results page explains each choice by them.
NER_PREVIOUS_DEFAULTS = ("graph_clip_norm_batch64", "graph_clip_norm")


def ner_variant_label(variant: str, default: str | None) -> str:
    """``variant``: what it is; the default (what params.yaml trains) in bold."""
    name = f"**`{variant}` (default)**" if variant == default else f"`{variant}`"
    return f"{name}: {NER_VARIANTS.get(variant, '')}".rstrip(": ")


def seed_count(runs: dict) -> str:
    return f"{len(runs)} seed{'s' * (len(runs) > 1)}"


def run_file(variant: str, seed: int) -> str:
    """Where benchmarks/ner_seeds.py keeps the run of ``variant`` from ``seed``."""
    return f"{NER_RUNS}/{variant}-seed{seed}.json"


def run_variants(root: Path) -> list[str]:
    """The variants that have at least one run file, by name."""
    return sorted({p.name.rsplit("-seed", 1)[0] for p in (root / NER_RUNS).glob("*-seed*.json")})


def ner_run_files(root: Path, variant: str) -> list[dict]:
    """``variant``'s run files, in seed order."""
    runs = [load(root, str(p.relative_to(root))) for p in (root / NER_RUNS).glob(f"{variant}-seed*.json")]
    return sorted(runs, key=lambda r: r["seed"])


def ner_seeds(root: Path) -> str:
    summary = load(root, NER_SEEDS)
    rows, backends = [], set()
    for variant in summary["ranked_by_dev_f1"]:
        runs = ner_run_files(root, variant)
        backends |= {r["backend"] for r in runs}
        per_seed = {str(r["seed"]): r for r in runs}
        rows.append([ner_variant_label(variant, summary["default"]), ", ".join(per_seed),
                     seed_stat(per_seed, "dev_f1"), seed_stat(per_seed, "test_f1"),
                     seed_stat(per_seed, "test_precision"),
                     " / ".join(pct(r["test_f1"]) for r in runs),
                     f"{mean_std(r['epochs_run'] for r in runs)[0]:.0f}"])
    body = table(["variant", "seeds", "dev F1", "test F1", "test precision", "test F1 per seed", "epochs run"], rows)
    command = ("python benchmarks/ner_seeds.py --variants " + " ".join(summary["ranked_by_dev_f1"]) +
               f" (KERAS_BACKEND={'/'.join(sorted(backends))})")
    return block(body, Source((NER_SEEDS, f"{NER_RUNS}/*.json"), command))


def ner_paired(root: Path) -> str:
    """The default minus every other variant, each earlier default likewise, then each
    other variant minus its own no-graph ablation (what the graph adds under that
    recipe), paired by seed."""
    best = load(root, NER_SEEDS)["default"]
    # Which variants ran, from the run files too (the summary may predate a run); each
    # variant's files read once.
    ran = run_variants(root)
    by_seed = {v: {r["seed"]: r for r in ner_run_files(root, v)} for v in ran}
    pairs = [(best, other) for other in ran if other != best]
    for earlier in (v for v in NER_PREVIOUS_DEFAULTS if v != best and v in ran):
        pairs += [(earlier, other) for other in ran if other not in (best, earlier)]
    pairs += [(v, a) for v, a in NER_ABLATION.items() if (v, a) not in pairs and v in ran and a in ran]
    rows = []
    for a, b in pairs:
        diffs = paired_by_seed(by_seed.get(a, {}), by_seed[b])  # the default may have no run yet
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


def ner_committed(root: Path) -> str:
    m = load(root, NER_METRICS)
    rows = [[split, pct(m[split]["precision"]), pct(m[split]["recall"]), f"**{pct(m[split]['f1'])}**",
             *(pct(m[split]["per_type"][t]["f1"]) for t in ("PER", "LOC", "ORG", "MISC"))]
            for split in ("dev", "test")]
    body = table(["split", "precision", "recall", "F1", "PER F1", "LOC F1", "ORG F1", "MISC F1"], rows)
    body += (f"\n\nBest epoch {m['best_epoch']} of {m['epochs_run']} (chosen on dev F1, seed 42, "
             "params.yaml as committed).")
    return block(body, Source((NER_METRICS,), "dvc repro train_ner"))


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


def history_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a train_ner history file (plots/ner/history.csv), one per epoch."""
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def committed_epoch_seconds(root: Path) -> list[float]:
    """Seconds of each epoch of the committed train_ner run (its history file)."""
    return [float(row["seconds"]) for row in history_rows(root / NER_HISTORY)]


PATIENCE = 6  # ner.train.patience of every seed run so far


def early_stop(dev_f1: list[float], patience: int) -> tuple[int, int]:
    """(the epoch kept, the epochs run) had a run whose dev F1 per epoch is ``dev_f1``
    stopped after ``patience`` epochs without a gain: train_ner's rule (a gain is a
    strictly higher F1; tasks/ner/training.py: out_of_patience) replayed on its history.
    Training is deterministic on one machine, so the shorter run is this run cut short."""
    best, best_epoch = -1.0, 0
    for epoch, f1 in enumerate(dev_f1, start=1):
        if f1 > best:
            best, best_epoch = f1, epoch
        if epoch - best_epoch >= patience:
            return best_epoch, epoch
    return best_epoch, len(dev_f1)


def ner_patience(root: Path) -> str:
    """What a shorter patience would have kept, per patience, over the default's seed runs
    that keep their dev F1 per epoch: exact on dev, and the same test F1 where the kept
    epoch is the run's own (the same model); test was never scored on another epoch."""
    summary = load(root, NER_SEEDS)
    runs = [r for r in ner_run_files(root, summary["default"]) if "dev_f1_by_epoch" in r]
    runs = [r for r in runs if early_stop(r["dev_f1_by_epoch"], PATIENCE) == (r["best_epoch"], r["epochs_run"])]
    if not runs:
        return block("No run of the default keeps its dev F1 per epoch yet.", Source((f"{NER_RUNS}/*.json",)))
    rows = []
    for patience in range(PATIENCE, 1, -1):
        kept = [early_stop(r["dev_f1_by_epoch"], patience) for r in runs]
        change = [(r["dev_f1_by_epoch"][k - 1] - r["dev_f1_by_epoch"][r["best_epoch"] - 1]) * 100
                  for (k, _), r in zip(kept, runs)]
        # at the run's own mean time per epoch (start-up and scoring included): a recorded
        # epoch_seconds may come from a re-run that shared the cores (history_from says so)
        saved = [(r["epochs_run"] - n) * r["seconds"] / r["epochs_run"] / 60 for (_, n), r in zip(kept, runs)]
        rows.append([str(patience) + (" (as run)" if patience == PATIENCE else ""),
                     f"{sum(k == r['best_epoch'] for (k, _), r in zip(kept, runs))} of {len(runs)}",
                     f"{statistics.mean(change):+.2f} (worst {min(change):+.2f})",
                     f"{statistics.mean(n for _, n in kept):.1f}",
                     f"{statistics.mean(saved):.1f} ({min(saved):.1f}-{max(saved):.1f})"])
    body = table(["patience", "runs that keep their own best epoch (same model, same test F1)",
                  "dev F1 of the kept epoch, change (points)", "epochs run", "minutes not run per run (range)"],
                 rows)
    body += (f"\n\nThe default's runs that keep their dev F1 per epoch: seeds "
             f"{', '.join(str(r['seed']) for r in runs)}. Minutes not run: the epochs not run at the run's own "
             "mean time per epoch (its clock over its epochs), an estimate.")
    return block(body, Source((f"{NER_RUNS}/*.json",)))


TABLES = {"ner-seeds": ner_seeds, "ner-paired": ner_paired, "ner-committed": ner_committed,
          "ner-stage-time": ner_stage_time, "ner-patience": ner_patience}
