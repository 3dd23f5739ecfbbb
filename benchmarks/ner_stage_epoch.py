"""Where a train_ner epoch's time goes: training, dev scoring, checkpoint, before/after.

An epoch of the stage is a training pass, the dev F1 (every dev sentence predicted and
scored) and a checkpoint. This script times each part, as train_ner does them (its own
functions, tasks/ner/training.py), for two configurations side by side:

  before  the sentence-level default (no document edges, no gates, IOB2 labels,
          length-bucketed batches): what train_ner ran before the document graph
  after   the committed default (document edges, gates, IOBES, document batches)
  after_no_graph  the same without its GCN (gcn_layers 0): the graph convolution's share

Each (configuration, backend) runs in its own process, two epochs: the first includes
tracing (TensorFlow) or compiling (JAX) one program per batch shape, the second is the
steady state that the stage's remaining epochs repeat.

    python benchmarks/ner_stage_epoch.py                       # TensorFlow and JAX
    python benchmarks/ner_stage_epoch.py --backends tensorflow
    python benchmarks/ner_stage_epoch.py --backends jax --configurations before after --merge
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tasks.common.settings import quiet_environment  # noqa: E402
from tasks.report.markdown import this_machine  # noqa: E402

quiet_environment()
PREPARED = ROOT / "data" / "prepared" / "ner"
OUT = ROOT / "benchmarks" / "results" / "ner_stage_epoch.json"
CONFIGS = {
    "before": {"overrides": {"doc_neighbours": 0, "edge_gates": False, "tag_scheme": "iob2"}, "batches": "lengths"},
    "after": {"overrides": {}, "batches": "documents"},
    # the same document batches without the GCN: what the graph convolution costs
    "after_no_graph": {"overrides": {"gcn_layers": 0}, "batches": "documents"},
}


def config_of(name: str):
    """The model configuration of ``CONFIGS[name]``."""
    from models.ner import resolve_config

    overrides = dict(CONFIGS[name]["overrides"])
    return resolve_config("default", gcn_layers=overrides.pop("gcn_layers", None), **overrides)


def timed_epochs(name: str, epochs: int = 2) -> dict:
    """``epochs`` stage epochs of configuration ``name`` in this process, each part timed."""
    import keras

    from models.ner import build_ner_model
    from tasks.ner.batches import BatchSequence
    from tasks.ner.span_f1 import span_scores
    from tasks.ner.training import gold_tags, load_prepared, predict_tags

    keras.utils.set_random_seed(0)
    spec, config = CONFIGS[name], config_of(name)
    data = load_prepared(PREPARED, config.tag_scheme)
    v = data.vocab
    model = build_ner_model(config, len(v["words"]), data.embeddings.shape[1], len(v["chars"]), len(data.labels),
                            len(v["relations"]), labels=data.labels)
    model.get_layer("word_embedding").set_weights([data.embeddings])
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    batching = {"documents": spec["batches"] == "documents", "doc_neighbours": config.document_inputs}
    dev_gold = gold_tags(data.splits["dev"], data.labels)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for epoch in range(epochs):
            t0 = time.perf_counter()
            train = BatchSequence(data.splits["train"], 32, 24, seed=0, epoch=epoch, **batching)  # as train_ner
            model.fit(train, epochs=epoch + 1, initial_epoch=epoch, verbose=0)
            t1 = time.perf_counter()
            pred = predict_tags(model, data.splits["dev"], data.labels, 32, 24, **batching)
            f1 = span_scores(dev_gold, pred)["f1"]
            t2 = time.perf_counter()
            model.save(Path(tmp) / "last.keras")
            model.save_weights(Path(tmp) / "best.weights.h5")
            t3 = time.perf_counter()
            rows.append({"train_s": t1 - t0, "dev_scoring_s": t2 - t1, "checkpoint_s": t3 - t2, "epoch_s": t3 - t0,
                         "dev_f1": f1})
    return {"configuration": name, "backend": keras.backend.backend(), "train_batches": len(train),
            "epochs": rows}


def batch_stats() -> dict:
    """Per configuration, what one training epoch's batches hold: real tokens, padded
    positions, the rows of the real tokens' lists (``nodes``, padded), edges (document
    edges among them) and the edge-list rows they are padded to (numpy only, no model)."""
    import numpy as np

    from models.graph_conv import DOC_EARLIER, DOC_LATER, NO_EDGE

    from tasks.ner.batches import batch_indices, load_split, make_batch, padded_rows

    split = load_split(PREPARED / "train.npz")
    out = {}
    for name, spec in CONFIGS.items():
        config = config_of(name)
        documents = spec["batches"] == "documents"
        stats = {"tokens": 0, "padded_positions": 0, "node_list_rows": 0, "edges": 0, "document_edges": 0,
                 "edge_list_rows": 0}
        for idx in batch_indices(split, 32, np.random.default_rng(0), documents):
            x, _, _ = make_batch(split, idx, 24, doc_neighbours=config.document_inputs,
                                 rows=padded_rows(len(idx)) if documents else 0)
            stats["tokens"] += int((x["words"] > 0).sum())
            stats["padded_positions"] += int(x["words"].size)
            stats["node_list_rows"] += len(x["nodes"])
            kind = x["edges"][:, 2]
            stats["edges"] += int((kind != NO_EDGE).sum())
            stats["document_edges"] += int(((kind == DOC_EARLIER) | (kind == DOC_LATER)).sum())
            stats["edge_list_rows"] += len(kind)
        out[name] = stats
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", nargs="+", default=["tensorflow", "jax"], choices=["tensorflow", "jax"])
    ap.add_argument("--configurations", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--merge", action="store_true", help=f"keep the other runs already in {OUT.name}")
    ap.add_argument("--stats-only", action="store_true", help=f"only recount the batches' contents into {OUT.name}")
    ap.add_argument("--configuration", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.configuration:
        print(json.dumps(timed_epochs(args.configuration)))
        return
    if not (PREPARED / "train.npz").is_file():
        sys.exit(f"error: {PREPARED} missing: run `dvc repro prepare_ner` first")
    if args.stats_only:
        OUT.write_text(json.dumps({**json.loads(OUT.read_text()), "batches": batch_stats()}, indent=2) + "\n")
        print(f"written {OUT.relative_to(ROOT)}")
        return
    results, commands = [], []
    if args.merge and OUT.is_file():
        previous = json.loads(OUT.read_text())
        results = [r for r in previous["runs"]
                   if not (r["backend"] in args.backends and r["configuration"] in args.configurations)]
        commands = previous["command"].split(" ; ")
    for backend in args.backends:
        for name in args.configurations:
            print(f"{name}, {backend}: two stage epochs ...", flush=True)
            proc = subprocess.run([sys.executable, __file__, "--configuration", name], capture_output=True, text=True,
                                  env={**os.environ, "KERAS_BACKEND": backend})
            if proc.returncode != 0:
                sys.exit(f"error: {name} under {backend} failed:\n{proc.stderr[-3000:]}")
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print("\n| configuration | backend | batches | first epoch s | epoch s | train s | dev scoring s | checkpoint s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        first, later = r["epochs"][0], r["epochs"][-1]
        print(f"| {r['configuration']} | {r['backend']} | {r['train_batches']} | {first['epoch_s']:.1f} | "
              f"{later['epoch_s']:.1f} | {later['train_s']:.1f} | {later['dev_scoring_s']:.1f} | "
              f"{later['checkpoint_s']:.2f} |")
    by = {(r["configuration"], r["backend"]): r["epochs"][-1]["epoch_s"] for r in results}
    ratios = {b: by[("after", b)] / by[("before", b)] for b in sorted({b for _, b in by})
              if ("after", b) in by and ("before", b) in by}
    for b, ratio in ratios.items():
        print(f"{b}: the document-level epoch takes {ratio:.2f}x the sentence-level one")
    machine = this_machine()
    commands.append(" ".join(["python", "benchmarks/ner_stage_epoch.py"] + sys.argv[1:]))
    OUT.write_text(json.dumps({"machine": machine, "command": " ; ".join(commands),
                               "epoch_ratio_after_over_before": ratios, "runs": results,
                               "batches": batch_stats()}, indent=2) + "\n")
    print(f"written {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
