"""Where the default NER model's training step spends its time: the step without each part.

An epoch of ``train_ner`` is mostly training steps (docs/benchmarks.md, "A train_ner
epoch, part by part"); this script splits a step by its parts. It builds the committed
default and one model per part, each the default less that part (``--parts``: the CRF
output, replaced by a softmax; the graph convolution; the character CNN; the BiLSTM),
all in one process, from seed 0, built and compiled by train_ner's own function (Adam, global
clipping), on the same real training batches (document batches of one epoch). Every
model is first warmed up over all the batches (one trace per batch shape); then they take
turns step by step: each batch trains every model once, one after the other, so drift in
this VM's speed (seconds long) hits them alike. A round is ``--steps`` batches. Reported
per round: each model's mean ms per step and, per part, the default's minus the model's
without it, paired within the round; the part's cost is the median of those over rounds
(an estimate: without a part the layers after it see other widths). The results file
keeps the latest run.

    python benchmarks/ner_step_parts.py
    python benchmarks/ner_step_parts.py --rounds 3 --steps 20 --parts crf gcn
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.common.files import write_json  # noqa: E402
from tasks.common.settings import quiet_environment  # noqa: E402

PREPARED = ROOT / "data" / "prepared" / "ner"
OUT = ROOT / "benchmarks" / "results" / "ner_step_parts.json"
# part -> the preset overrides that remove it
PARTS = {"crf": {"output": "dense"}, "gcn": {"gcn_layers": 0}, "char_cnn": {"char_filters": 0},
         "bilstm": {"context_units": 0}}


def build(overrides: dict, data, tp):
    """The default less ``overrides``, built and compiled by train_ner's own function
    (from seed 0, with an empty checkpoint folder, so nothing is resumed)."""
    import tempfile

    import keras

    from models.ner import resolve_config
    from tasks.ner.training import Checkpoint, build_or_resume

    keras.utils.set_random_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        config = resolve_config("default", **overrides)
        model, _ = build_or_resume(config, data, tp.learning_rate, Checkpoint(Path(tmp)), tp.clip_norm)
    return model


def time_in_turns(models: dict, batches) -> dict[str, float]:
    """ms per training step of each model over ``batches``, every batch training each
    model in turn."""
    spent = dict.fromkeys(models, 0.0)
    for x, y, w in batches:
        for name, model in models.items():
            t0 = time.perf_counter()
            model.train_on_batch(x, y, sample_weight=w)
            spent[name] += time.perf_counter() - t0
    return {name: total / len(batches) * 1000 for name, total in spent.items()}


def measure(parts: list[str], rounds: int, steps: int) -> dict:
    quiet_environment()
    from models.ner import resolve_config
    from tasks.common.params import load_params
    from tasks.ner.batches import BatchSequence
    from tasks.ner.training import batching, load_prepared

    tp = load_params(ROOT / "params.yaml").ner.train
    config = resolve_config("default")
    data = load_prepared(PREPARED, config.tag_scheme)
    epoch = BatchSequence(data.splits["train"], tp.batch_size, tp.max_word_length, seed=0, **batching(tp, config))
    chosen = [epoch[i % len(epoch)] for i in range(rounds * steps)]
    models = {"default": build({}, data, tp)} | {f"no {p}": build(PARTS[p], data, tp) for p in parts}
    t0 = time.perf_counter()
    time_in_turns(models, chosen)
    print(f"warmed up {len(models)} models over {len(chosen)} batches ({time.perf_counter() - t0:.0f} s)", flush=True)
    times: dict[str, list[float]] = {name: [] for name in models}
    for r in range(rounds):
        for name, ms in time_in_turns(models, chosen[r * steps:(r + 1) * steps]).items():
            times[name].append(ms)
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in times.items()) + " ms/step",
              flush=True)
    paired = {p: [d - o for d, o in zip(times["default"], times[f"no {p}"])] for p in parts}
    return {"rounds": rounds, "steps_per_round": steps, "batch_size": tp.batch_size, "clip_norm": tp.clip_norm,
            "ms_per_step": times, "median_ms_per_step": {k: statistics.median(v) for k, v in times.items()},
            "part_ms_per_step": {p: statistics.median(d) for p, d in paired.items()},
            "part_ms_per_step_range": {p: [min(d), max(d)] for p, d in paired.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=40, help="training steps per model per round")
    args = ap.parse_args()
    if args.rounds < 1 or args.steps < 1:
        ap.error("--rounds and --steps must be at least 1")
    if not (PREPARED / "train.npz").is_file():
        sys.exit(f"error: {PREPARED} missing: run `dvc repro prepare_ner` first")
    from tasks.report.markdown import host_cpu, this_machine

    result = {"machine": this_machine(), "cpu": host_cpu(), "date": time.strftime("%Y-%m-%d %H:%M"),
              "command": "python benchmarks/ner_step_parts.py " + " ".join(sys.argv[1:]),
              **measure(args.parts, args.rounds, args.steps)}
    write_json(OUT, result)
    m = result["median_ms_per_step"]
    for part, ms in result["part_ms_per_step"].items():
        low, high = result["part_ms_per_step_range"][part]
        print(f"{part}: {ms:.1f} of {m['default']:.1f} ms per step ({ms / m['default']:.0%}; rounds {low:.1f} to "
              f"{high:.1f})")
    print(f"written {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
