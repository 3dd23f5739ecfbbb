"""Training throughput and peak memory: edge-list GCN vs the dense reference.

Both variants train the same architecture (the seed_train preset: frozen GloVe ->
GCN 256 -> GCN 256 -> softmax, one weight matrix per relation, the original's
formulation) on the *same* length-bucketed CoNLL batches; only the graph layer differs:
  edge   models.graph_conv.GraphConvolution (gather + segment-sum over the tree's edges)
  dense  benchmarks/references.py: DenseGraphConvolution fed a (batch, relations, n, n) adjacency,
         precomputed before timing (its construction time is reported separately)
Each variant runs in its own process so peak memory (max RSS) is its own.

Backends and compilation: the sentence-level default preset (no document edges, no
gates, IOB2; as params.yaml sets its output) trains two
full epochs under TensorFlow and under JAX, each in its own process, with batch lengths
padded to the fixed ladder (tasks/ner/batches.py: LENGTH_LADDER) and, for the before/
after comparison, to multiples of 8 (the old policy). The first epoch includes tracing
or compiling one program per batch shape; the second shows the steady state.

    python benchmarks/ner_speed.py                 # needs data/prepared/ner (dvc repro prepare_ner)
    python benchmarks/ner_speed.py --batches 20 --passes 1   # quicker
    python benchmarks/ner_speed.py --epochs-only   # just the backend / padding epochs (--output dense: softmax)
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tasks.common.settings import quiet_environment  # noqa: E402
from tasks.report.markdown import this_machine  # noqa: E402

quiet_environment()
PREPARED = ROOT / "data" / "prepared" / "ner"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def build(variant: str, vocab: dict, embeddings, units: int):
    import keras

    from models.graph_conv import EDGE_COLUMNS, GraphConvolution, relation_count
    from benchmarks.references import DenseGraphConvolution

    L = len(vocab["relations"])
    R = relation_count(L, True, True, True)
    words = keras.Input((None,), dtype="int32", name="words")
    mask = keras.ops.not_equal(words, 0)
    x = keras.layers.Embedding(*embeddings.shape, trainable=False, name="word_embedding")(words)
    if variant.startswith("edge"):
        edges = keras.Input((EDGE_COLUMNS,), dtype="int32", name="edges")
        nodes = keras.Input((), dtype="int32", name="nodes")
        graph_inputs = {"edges": edges, "nodes": nodes}
        # edge_bases: the layer configuration of our default preset (basis decomposition).
        options = dict(num_bases=8, normalize=True, edge_weighting=True) if variant == "edge_bases" else {}
        gcn = lambda u, h: GraphConvolution(u, L, activation="relu", **options)([h, edges, nodes], mask=mask)  # noqa: E731
    else:
        adj = keras.Input((R, None, None), name="adjacency")
        graph_inputs = {"adjacency": adj}
        gcn = lambda u, h: DenseGraphConvolution(u, R, activation="relu")([h, adj], mask=mask)  # noqa: E731
    x = gcn(units, x)
    x = keras.layers.Dropout(0.5)(gcn(units, keras.layers.Dropout(0.5)(x)))
    out = keras.layers.Dense(len(vocab["labels"]), activation="softmax")(x)
    model = keras.Model({"words": words, **graph_inputs}, out)
    model.get_layer("word_embedding").set_weights([embeddings])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return model


def padded_trees(split, idx, n: int):
    """(B, n) heads and relation labels of sentences ``idx``: the dense reference's input."""
    import numpy as np

    heads, rels = np.zeros((len(idx), n), np.int32), np.zeros((len(idx), n), np.int32)
    for row, i in enumerate(idx):
        heads[row, :len(split.head[i])], rels[row, :len(split.rel[i])] = split.head[i], split.rel[i]
    return heads, rels


def run_variant(variant: str, n_batches: int, batch_size: int, passes: int, units: int) -> dict:
    import keras
    import numpy as np

    from models.graph_conv import relation_count
    from benchmarks.references import dense_adjacency
    from tasks.ner.batches import bucketed_batches, load_split, load_vocab, make_batch

    keras.utils.set_random_seed(0)
    vocab = load_vocab(PREPARED)
    split = load_split(PREPARED / "train.npz")
    embeddings = np.load(PREPARED / "embeddings.npy")
    chosen = bucketed_batches(split.lengths, batch_size, np.random.default_rng(0))[:n_batches]
    L = len(vocab["relations"])
    prep_seconds = 0.0

    def inputs_for(idx):
        # The dense adjacency is built per step (as a streaming input pipeline would), and
        # its build time is kept out of the training time.
        nonlocal prep_seconds
        x, y, w = make_batch(split, idx, 24)
        if variant == "dense_pad128":  # the original padded every sentence to the longest of all (124)
            extra = 128 - x["words"].shape[1]
            x = {"words": np.pad(x["words"], [(0, 0), (0, extra)])}
            y, w = np.pad(y, [(0, 0), (0, extra)]), np.pad(w, [(0, 0), (0, extra)])
        inputs = {"words": x["words"]}
        if variant.startswith("edge"):
            inputs["edges"], inputs["nodes"] = x["edges"], x["nodes"]
        else:
            t0 = time.perf_counter()
            heads, rels = padded_trees(split, idx, x["words"].shape[1])
            inputs["adjacency"] = dense_adjacency(heads, rels, (x["words"] != 0).sum(1), L)
            prep_seconds += time.perf_counter() - t0
        return inputs, y, w

    baseline = rss_mb()  # data loaded, no model yet
    model = build(variant, vocab, embeddings, units)
    for idx in chosen:  # warm-up: one trace per shape
        inputs, y, w = inputs_for(idx)
        model.train_on_batch(inputs, y, sample_weight=w)
    prep_seconds, seconds = 0.0, 0.0
    for _ in range(passes):
        for idx in chosen:
            inputs, y, w = inputs_for(idx)
            t0 = time.perf_counter()
            model.train_on_batch(inputs, y, sample_weight=w)
            seconds += time.perf_counter() - t0
    sentences = passes * sum(len(i) for i in chosen)
    lengths = [128 if variant == "dense_pad128" else -(-int(split.lengths[i].max()) // 8) * 8 for i in chosen]
    return {"variant": variant, "sentences": sentences, "seconds": seconds, "sentences_per_s": sentences / seconds,
            "peak_rss_mb": rss_mb(), "training_rss_mb": rss_mb() - baseline, "adjacency_build_s": prep_seconds,
            "relations": relation_count(L, True, True, True), "mean_padded_length": float(np.mean(lengths))}


def default_epoch(padding: str, output: str) -> dict:
    """Two full training epochs of the default preset with ``output`` (crf | dense), as
    train_ner runs them (this process's KERAS_BACKEND), batch lengths padded by
    ``padding`` (ladder | multiple8)."""
    import keras
    import numpy as np

    from models.ner import build_ner_model, resolve_config
    from tasks.ner.batches import LENGTH_LADDER, BatchSequence, load_split, load_vocab, padded_length

    keras.utils.set_random_seed(0)
    vocab = load_vocab(PREPARED)
    split = load_split(PREPARED / "train.npz")
    emb = np.load(PREPARED / "embeddings.npy")
    # The sentence-level default these figures were measured on (length-bucketed
    # batches carry no document edges); benchmarks/ner_stage_epoch.py times the
    # document-level one.
    config = resolve_config("default", output=output, doc_neighbours=0, edge_gates=False, tag_scheme="iob2")
    model = build_ner_model(config, len(vocab["words"]), emb.shape[1], len(vocab["chars"]),
                            len(vocab["labels"]), len(vocab["relations"]), labels=vocab["labels"])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=None if config.output == "crf" else "sparse_categorical_crossentropy")
    ladder = LENGTH_LADDER if padding == "ladder" else None
    seq = BatchSequence(split, 32, 24, seed=0, ladder=ladder)
    shapes = {(len(b), padded_length(int(split.lengths[b].max()), ladder)) for b in seq.batches}
    times: list[float] = []

    class EpochTimer(keras.callbacks.Callback):  # one fit call, as train_ner makes
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t0)

    model.fit(seq, epochs=2, verbose=0, callbacks=[EpochTimer()])
    first, later = times
    return {"variant": f"default preset ({config.output}), {keras.backend.backend()}, {padding}",
            "backend": keras.backend.backend(), "padding": padding, "output": config.output,
            "batch_shapes": len(shapes), "first_epoch_s": first, "epoch_s": later,
            "sentences_per_s": len(split) / later, "sentences": len(split), "peak_rss_mb": rss_mb()}


EPOCH_RUNS = [("tensorflow", "multiple8"), ("tensorflow", "ladder"), ("jax", "multiple8"), ("jax", "ladder")]


def epoch_runs(output: str) -> dict:
    results = {}
    for backend, padding in EPOCH_RUNS:
        print(f"running two default-preset epochs: {backend}, {padding} ...", flush=True)
        env = {**os.environ, "KERAS_BACKEND": backend}
        proc = subprocess.run([sys.executable, __file__, "--variant", f"epoch:{padding}:{output}"], capture_output=True,
                              text=True, env=env)
        if proc.returncode != 0:
            sys.exit(f"epoch run {backend}/{padding} failed:\n{proc.stderr[-3000:]}")
        results[f"epoch_{backend}_{padding}"] = json.loads(proc.stdout.strip().splitlines()[-1])
    tf_, jx = results["epoch_tensorflow_ladder"], results["epoch_jax_ladder"]
    results["epoch_ratio_jax_over_tensorflow"] = tf_["epoch_s"] / jx["epoch_s"]
    print("\n| backend | padding | batch shapes | first epoch s | later epoch s | sentences/s |")
    print("|---|---|---|---|---|---|")
    for backend, padding in EPOCH_RUNS:
        r = results[f"epoch_{backend}_{padding}"]
        print(f"| {backend} | {padding} | {r['batch_shapes']} | {r['first_epoch_s']:.1f} | {r['epoch_s']:.1f} | "
              f"{r['sentences_per_s']:.0f} |")
    print(f"JAX speed over TensorFlow (later epochs, ladder): {results['epoch_ratio_jax_over_tensorflow']:.2f}x")
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--units", type=int, default=256)
    ap.add_argument("--no-epoch", action="store_true", help="skip the default-preset epoch timings")
    ap.add_argument("--epochs-only", action="store_true", help="only the backend / padding epoch timings")
    ap.add_argument("--output", default="crf", choices=["crf", "dense"], help="the default preset's output head")
    ap.add_argument("--no-pad128", action="store_true", help="skip the dense run on batches padded to 128")
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ner_speed.json"))
    args = ap.parse_args()
    if args.variant and args.variant.startswith("epoch:"):
        print(json.dumps(default_epoch(*args.variant.split(":")[1:])))
        return
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.batches, args.batch_size, args.passes, args.units)))
        return
    if not (PREPARED / "train.npz").is_file():
        sys.exit(f"error: {PREPARED} missing: run `dvc repro prepare_ner` first")
    machine = this_machine()
    command = " ".join([Path(sys.executable).name] + sys.argv)
    if args.epochs_only:
        out = Path(args.out).with_name("ner_backends.json")
        out.write_text(json.dumps({"machine": machine, "command": command, **epoch_runs(args.output)}, indent=2) + "\n")
        print(f"written {out}")
        return
    results = {}
    todo = ["edge", "edge_bases", "dense"] + ([] if args.no_pad128 else ["dense_pad128"])
    for variant in todo:
        cmd = [sys.executable, __file__, "--variant", variant, "--batches", str(args.batches),
               "--batch-size", str(args.batch_size), "--passes", str(args.passes), "--units", str(args.units)]
        print(f"running {variant} ...", flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"{variant} failed:\n{proc.stderr[-3000:]}")
        results[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
    e, d = results["edge"], results["dense"]
    for name in ("edge_bases", "dense_pad128"):
        if name in results:
            results[name]["throughput_vs_dense"] = results[name]["sentences_per_s"] / d["sentences_per_s"]
    import keras

    if not args.no_epoch:
        results.update(epoch_runs(args.output))
    summary = {
        "machine": machine,
        "backend": keras.backend.backend(),
        "command": command,
        "throughput_ratio_edge_over_dense": e["sentences_per_s"] / d["sentences_per_s"],
        "training_memory_ratio_dense_over_edge": d["training_rss_mb"] / e["training_rss_mb"],
        "throughput_ratio_default_layer_over_dense": results["edge_bases"]["sentences_per_s"] / d["sentences_per_s"],
        **results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")
    print("\n| layer | padded n | sentences/s | x dense | peak RSS MB | training RSS MB | adjacency build s |")
    print("|---|---|---|---|---|---|---|")
    for name in ("edge", "edge_bases", "dense", "dense_pad128"):
        if name in results:
            r = results[name]
            print(f"| {name} | {r['mean_padded_length']:.0f} | {r['sentences_per_s']:.1f} | "
                  f"{r['sentences_per_s'] / d['sentences_per_s']:.2f} | {r['peak_rss_mb']:.0f} | "
                  f"{r['training_rss_mb']:.0f} | {r['adjacency_build_s']:.2f} |")
    print(f"\nsame function (full weights), same batches: edge/dense {summary['throughput_ratio_edge_over_dense']:.2f}x;"
          f" default layer (8 bases)/dense {summary['throughput_ratio_default_layer_over_dense']:.2f}x;"
          f"   training memory (RSS growth) dense/edge: {summary['training_memory_ratio_dense_over_edge']:.2f}x")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
