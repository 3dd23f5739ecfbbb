"""Prefect flow for the NER pipeline: prepare_ner -> train_ner, each a DVC stage.

    python -m flows.ner                       # params.yaml as it is
    python -m flows.ner --preset seed_readme --epochs 5

No server is needed: Prefect starts a temporary local one, MLflow writes to mlflow.db.
"""
from __future__ import annotations

import argparse
from typing import Optional

from prefect import flow, task

from flows.reporting import publish_summary
from flows.runner import run_pipeline
from tasks.common.params import Preset

STAGES = ("prepare_ner", "train_ner")


@task(task_run_name="register gnn-ner")
def register(run_id: str) -> tuple[str, int, bool]:
    """Register the trained model in the MLflow model registry as gnn-ner; no new version
    when the latest one holds the same files (a cached run)."""
    from tasks.serving.registry import register_ner

    return ("gnn-ner", *register_ner(run_id))


@flow(name="ner", log_prints=True)
def ner_flow(preset: Optional[Preset] = None, epochs: Optional[int] = None, seed: Optional[int] = None,
             batch_size: Optional[int] = None, max_sentences: Optional[int] = None) -> dict:
    """Train and score the GCN tagger on CoNLL-2003. Empty fields keep params.yaml."""
    overrides = {"ner.model.preset": preset, "ner.train.epochs": epochs, "ner.train.seed": seed,
                 "ner.train.batch_size": batch_size, "ner.data.max_sentences": max_sentences}
    metrics, run = run_pipeline("ner", "ner", STAGES, overrides, "metrics/ner.json", register)
    rows = [(split, *(f"{metrics[split][k]:.4f}" for k in ("precision", "recall", "f1"))) for split in ("dev", "test")]
    rows += [(f"test {t}", *(f"{v[k]:.4f}" for k in ("precision", "recall", "f1")))
             for t, v in metrics["test"]["per_type"].items()]
    publish_summary("NER results", rows, ("split", "precision", "recall", "F1"), run)
    print(f"test strict span F1 {metrics['test']['f1']:.4f} (dev {metrics['dev']['f1']:.4f}); "
          f"MLflow run {run.info.run_id}")
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=ner_flow.__doc__)
    parser.add_argument("--preset", choices=["seed_readme", "seed_train", "default"])
    for name in ("epochs", "seed", "batch_size", "max_sentences"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, dest=name)
    ner_flow(**vars(parser.parse_args()))


if __name__ == "__main__":
    main()
