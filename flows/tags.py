"""Prefect flow for the tag pipeline: import_articles -> embed_text -> project_graph ->
sample_graph -> train_sage -> evaluate_tags, each a DVC stage.

    python -m flows.tags
    python -m flows.tags --epochs 5 --min-count 200
"""
from __future__ import annotations

import argparse
from typing import Literal, Optional

from prefect import flow, task

from flows.reporting import publish_summary
from flows.runner import run_pipeline

STAGES = ("import_articles", "embed_text", "project_graph", "sample_graph", "train_sage", "evaluate_tags")


@task(task_run_name="register gnn-tags")
def register(run_id: str) -> tuple[str, int, bool]:
    """Register the trained model in the MLflow model registry as gnn-tags; no new version
    when the latest one holds the same files (a cached run)."""
    from tasks.serving.registry import register_tags

    return ("gnn-tags", *register_tags(run_id))


@flow(name="tags", log_prints=True)
def tags_flow(data_format: Optional[Literal["citeulike", "medium"]] = None, data_dir: Optional[str] = None,
              sampling_ratio: Optional[float] = None,
              aggregator: Optional[Literal["mean", "pool"]] = None, epochs: Optional[int] = None,
              embedding_dimension: Optional[int] = None, min_count: Optional[int] = None,
              seed: Optional[int] = None) -> dict:
    """GraphSAGE-enhanced text embeddings for multi-label tags. Empty fields keep params.yaml."""
    overrides = {"tags.data.format": data_format, "tags.data.dir": data_dir, "tags.sampling.sampling_ratio": sampling_ratio,
                 "tags.sage.aggregator": aggregator, "tags.sage.epochs": epochs,
                 "tags.sage.embedding_dimension": embedding_dimension, "tags.evaluate.min_count": min_count,
                 "tags.sage.seed": seed, "tags.sampling.seed": seed, "tags.evaluate.seed": seed}
    metrics, run = run_pipeline("tags", "tags", STAGES, overrides, "metrics/tags.json", register)
    keys = ("accuracy", "macro_precision", "weighted_precision", "macro_f1", "micro_f1")
    rows = [(name, *(f"{metrics[name][k]:.4f}" for k in keys)) for name in ("text", "graphsage", "concat")]
    publish_summary("Tag results", rows, ("features",) + keys, run)
    for name in ("text", "graphsage", "concat"):
        m = metrics[name]
        print(f"{name:10s} macro precision {m['macro_precision']:.4f}  macro F1 {m['macro_f1']:.4f}  "
              f"accuracy {m['accuracy']:.4f}")
    print(f"MLflow run {run.info.run_id}")
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=tags_flow.__doc__)
    parser.add_argument("--data-format", choices=["citeulike", "medium"])
    parser.add_argument("--data-dir", help="the folder import_articles reads (tags.data.dir)")
    parser.add_argument("--aggregator", choices=["mean", "pool"])
    parser.add_argument("--sampling-ratio", type=float)
    for name in ("epochs", "embedding_dimension", "min_count", "seed"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, dest=name)
    tags_flow(**vars(parser.parse_args()))


if __name__ == "__main__":
    main()
