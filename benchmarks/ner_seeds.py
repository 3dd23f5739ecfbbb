"""Train NER variants over several seeds; compare them by their dev means, report test mean ± std.

One seed cannot rank taggers: on CoNLL-2003 two seeds of the same BiLSTM tagger differ by
about 0.4 F1 at the median (Reimers & Gurevych, EMNLP 2017). Each (variant, seed) runs
``train_ner``'s own training function in a private work folder under
``.cache/ner_seeds/`` (params.yaml = the project's with the variant's overrides and the
seed; data/prepared/ner linked, never copied), in its own process, so a run resumes from
its epoch checkpoint when interrupted and never touches the workspace's outputs.
Each finished run leaves ``benchmarks/results/ner_seeds/<variant>-seed<N>.json``; a
later call skips the runs already there (``--force`` reruns them) and
``metrics/ner_seeds.json`` is rebuilt from every run file present. The variants (params.yaml
overrides) are defined in ``benchmarks/ner_variants.py``.

    python benchmarks/ner_seeds.py --variants graph no_graph --seeds 42 43 44 45 46
    python benchmarks/ner_seeds.py --summarise     # rebuild metrics/ner_seeds.json, print the table
    python benchmarks/ner_seeds.py --from-workspace default_crf   # adopt the workspace's dvc repro run

``--from-workspace VARIANT`` records the workspace's committed train_ner result as that
variant's run for params.yaml's seed, after checking that the workspace trains exactly
that variant (same resolved model, same training params) and that ``dvc status
train_ner`` is clean: the run ``dvc repro`` made is not made twice.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.common.files import write_json  # noqa: E402
from tasks.common.paths import NER_HISTORY  # noqa: E402
from benchmarks.ner_variants import VARIANTS, params_of  # noqa: E402
from tasks.common.params import ParamsError, read_raw  # noqa: E402
from tasks.common.settings import settings  # noqa: E402
from tasks.common.stats import mean_std  # noqa: E402
from tasks.report.markdown import host_cpu, paired_by_seed, short_commit, this_machine  # noqa: E402
from tasks.report.ner_tables import NER_RUNS, NER_SEEDS, history_rows, run_file  # noqa: E402

RUNS = ROOT / NER_RUNS
WORK = ROOT / ".cache" / "ner_seeds"
SUMMARY = ROOT / NER_SEEDS

RUN_SCRIPT = """
import json, sys, time
from tasks.common.params import load_params
from tasks.ner.training import train
from benchmarks.ner_seeds import resumable_epoch
params = load_params("params.yaml").ner
resumed = resumable_epoch(params)
t0 = time.perf_counter()
results = train(params)
results["seconds"] = time.perf_counter() - t0
results["resumed_after_epoch"] = resumed
print("RESULT " + json.dumps(results))
"""


def variant_params(variant: str, seed: int) -> dict:
    """The project's params with the variant's overrides and ``seed``; validated."""
    return params_of(variant, seed, ROOT / "params.yaml")


def run_record(variant: str, seed: int, results: dict, seconds: float, commit: str | None = None, **extra) -> dict:
    """One run's file: what ran (variant, seed, backend, commit: HEAD when the run started,
    default HEAD now) and its dev/test figures."""
    return {"variant": variant, "seed": seed, "overrides": VARIANTS[variant], **extra,
            "backend": settings().keras_backend, "commit": commit or short_commit(ROOT),
            "best_epoch": results["best_epoch"], "epochs_run": results["epochs_run"], "seconds": round(seconds, 1),
            **{f"{split}_{k}": results[split][k] for split in ("dev", "test") for k in ("precision", "recall", "f1")}}


def epoch_history(history_csv: Path) -> dict:
    """Per epoch of a finished run, from its plots/ner/history.csv: dev F1 and seconds.
    Kept in the run file so that what early stopping chose can be studied afterwards
    (e.g. which epoch a shorter patience would have kept) without training again."""
    rows = history_rows(history_csv)
    return {"dev_f1_by_epoch": [round(float(r["dev_f1"]), 6) for r in rows],
            "epoch_seconds": [round(float(r["seconds"]), 1) for r in rows]}


def run_one(variant: str, seed: int) -> dict:
    import yaml

    work = WORK / f"{variant}-seed{seed}"
    (work / "data" / "prepared").mkdir(parents=True, exist_ok=True)
    link = work / "data" / "prepared" / "ner"
    if not link.exists():
        link.symlink_to(ROOT / "data" / "prepared" / "ner")
    (work / "params.yaml").write_text(yaml.safe_dump(variant_params(variant, seed), sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    log, commit = work / "train.log", short_commit(ROOT)  # a run takes ~20 min: commits may land meanwhile
    print(f"[{time.strftime('%H:%M:%S')}] {variant} seed {seed}: training (progress: tail -f {log})", flush=True)
    with log.open("w") as out:
        proc = subprocess.run([sys.executable, "-u", "-c", RUN_SCRIPT], cwd=work, env=env, stdout=out,
                              stderr=subprocess.STDOUT, text=True)
    result_lines = [line for line in log.read_text().splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not result_lines:
        sys.exit(f"error: {variant} seed {seed} failed (exit {proc.returncode}); see {log}")
    results = json.loads(result_lines[-1][len("RESULT "):])
    # A resumed run's "seconds" are this process's only: the epochs before the checkpoint
    # ran earlier (resumed_after_epoch says how many).
    record = run_record(variant, seed, results, results["seconds"], commit,
                        machine=this_machine(), cpu=host_cpu(), **epoch_history(work / NER_HISTORY),
                        **({"resumed_after_epoch": results["resumed_after_epoch"]}
                           if results["resumed_after_epoch"] else {}))
    write_json(ROOT / run_file(variant, seed), record)
    shutil.rmtree(work, ignore_errors=True)
    print(f"  dev F1 {record['dev_f1']:.4f}  test F1 {record['test_f1']:.4f}  ({record['seconds'] / 60:.1f} min)",
          flush=True)
    return record


def resumable_epoch(ner) -> int:
    """The epoch ``train(ner)`` will resume after, run where it trains (0: a fresh start).
    It asks training's own checkpoint key, so a checkpoint of other code or params,
    which training would not resume, counts as none."""
    from tasks.ner.training import Checkpoint, checkpoint_dir

    state = Checkpoint(checkpoint_dir(ner)).state_file
    return json.loads(state.read_text())["epoch"] if state.is_file() else 0


def _trains_same(a: dict, b: dict) -> bool:
    from models.ner import resolve_config
    from tasks.common.params import validate_params

    def key(raw: dict):
        ner = validate_params(raw).ner
        m = ner.model.model_dump()
        preset, layers_ = m.pop("preset"), m.pop("gcn_layers")
        return resolve_config(preset, gcn_layers=layers_, **m), ner.train, ner.data, ner.spacy, ner.embeddings

    return key(a) == key(b)


def record_workspace(variant: str) -> dict:
    """The workspace's dvc repro result as ``variant``'s run for its seed (see --from-workspace)."""
    raw = read_raw(ROOT / "params.yaml")
    seed = raw["ner"]["train"]["seed"]
    if not _trains_same(raw, variant_params(variant, seed)):
        sys.exit(f"error: params.yaml does not train variant {variant} (seed {seed})")
    status = subprocess.run(["dvc", "status", "train_ner", "--json"], cwd=ROOT, capture_output=True, text=True)
    if status.returncode != 0 or json.loads(status.stdout or "{}"):
        sys.exit("error: `dvc status train_ner` is not clean: run `dvc repro train_ner` first")
    results = json.loads((ROOT / "metrics" / "ner.json").read_text())
    history = epoch_history(ROOT / NER_HISTORY)
    # Its "seconds" sum the epochs only (the stage's clock is not kept), so it stays out
    # of the variant's time per run, which times the whole train() call.
    record = run_record(variant, seed, results, sum(history["epoch_seconds"]), source="dvc repro (workspace)",
                        machine=this_machine(), cpu=host_cpu(), **history)
    write_json(ROOT / run_file(variant, seed), record)
    print(f"{variant} seed {seed}: recorded from the workspace (dev F1 {record['dev_f1']:.4f})")
    return record


def _mean_std(values: list[float]) -> dict:
    mean, std = mean_std(values)
    return {"mean": mean, "std": std}


def default_variant() -> str | None:
    """The variant that params.yaml trains (the committed default), if any."""
    raw = read_raw(ROOT / "params.yaml")
    seed = raw["ner"]["train"]["seed"]
    return next((v for v in VARIANTS if _trains_same(raw, variant_params(v, seed))), None)


def paired_differences(summary: dict, best: str) -> dict:
    """best minus each other variant, seed by seed (the seeds both have): mean ± std."""
    out = {}
    runs = summary["variants"]
    for other in runs:
        diffs = paired_by_seed(runs[best]["per_seed"], runs[other]["per_seed"])
        if other == best or not diffs:
            continue
        out[other] = {"seeds": [int(s) for s in diffs],
                      **{k: _mean_std([d[k] for d in diffs.values()]) for k in ("dev_f1", "test_f1")}}
    return out


def summarise() -> dict:
    """metrics/ner_seeds.json from every run file: per variant, the runs and mean ± std
    (sample std) of dev and test figures; variants ranked by dev F1 mean; the default
    (what params.yaml trains) minus every other variant, paired by seed."""
    runs: dict[str, list[dict]] = {}
    for path in sorted(RUNS.glob("*.json")):
        record = json.loads(path.read_text())
        runs.setdefault(record["variant"], []).append(record)
    summary: dict = {"variants": {}}
    for variant, records in runs.items():
        records.sort(key=lambda r: r["seed"])
        stats = {key: _mean_std([r[key] for r in records])
                 for key in ("dev_f1", "test_f1", "test_precision", "test_recall", "epochs_run")}
        # Time per run over the runs this runner timed whole: a resumed run timed only its
        # last part, and a run adopted from the workspace only its epochs (history.csv).
        whole = [r["seconds"] for r in records if "resumed_after_epoch" not in r and "source" not in r]
        stats["seconds"] = {**_mean_std(whole), "runs": len(whole)} if whole else None
        summary["variants"][variant] = {"seeds": [r["seed"] for r in records], **stats,
                                        "per_seed": {str(r["seed"]): {k: r[k] for k in ("dev_f1", "test_f1",
                                                                                       "best_epoch")}
                                                     for r in records}}
    ranked = sorted(summary["variants"], key=lambda v: -summary["variants"][v]["dev_f1"]["mean"])
    summary["ranked_by_dev_f1"] = ranked
    # Paired with the committed default, not with the top of the ranking: a variant run on
    # fewer seeds can top it by chance, and a new default is chosen on paired dev figures.
    default = default_variant()
    summary["default"] = default
    summary["paired_vs_default"] = paired_differences(summary, default) if default in summary["variants"] else {}
    write_json(SUMMARY, summary)
    print("\n| variant | seeds | dev F1 | test F1 | test precision | epochs | minutes/run |")
    print("|---|---|---|---|---|---|---|")
    for v in ranked:
        s = summary["variants"][v]
        cell = lambda k, scale=100: f"{s[k]['mean'] * scale:.2f} ± {s[k]['std'] * scale:.2f}"  # noqa: E731
        print(f"| {v} | {len(s['seeds'])} | {cell('dev_f1')} | {cell('test_f1')} | {cell('test_precision')} | "
              f"{s['epochs_run']['mean']:.0f} | {s['seconds']['mean'] / 60 if s['seconds'] else float('nan'):.1f} |")
    for v, d in summary["paired_vs_default"].items():
        print(f"{default} - {v} on seeds {d['seeds']}: dev F1 {d['dev_f1']['mean'] * 100:+.2f} ± "
              f"{d['dev_f1']['std'] * 100:.2f}, test F1 {d['test_f1']['mean'] * 100:+.2f} ± {d['test_f1']['std'] * 100:.2f}")
    print(f"written {SUMMARY.relative_to(ROOT)}")
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=[])
    ap.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    ap.add_argument("--force", action="store_true", help="rerun (variant, seed) pairs that already have results")
    ap.add_argument("--summarise", action="store_true", help="only rebuild metrics/ner_seeds.json")
    ap.add_argument("--from-workspace", metavar="VARIANT", choices=sorted(VARIANTS),
                    help="record the workspace's dvc repro train_ner result as VARIANT's run")
    args = ap.parse_args()
    if args.from_workspace:
        record_workspace(args.from_workspace)
    elif not args.summarise:
        if not args.variants:
            ap.error("give --variants (or --summarise)")
        if not (ROOT / "data" / "prepared" / "ner" / "train.npz").is_file():
            sys.exit("error: data/prepared/ner missing: run `dvc repro prepare_ner` first")
        try:
            for variant in args.variants:
                variant_params(variant, args.seeds[0])  # every variant valid before any training starts
        except ParamsError as err:
            sys.exit(f"error: {err}")
        for variant in args.variants:
            for seed in args.seeds:
                if (ROOT / run_file(variant, seed)).is_file() and not args.force:
                    print(f"{variant} seed {seed}: done already (--force reruns it)")
                    continue
                run_one(variant, seed)
    summarise()


if __name__ == "__main__":
    main()
