"""Prefect flow for the NER pipeline: prepare_ner -> train_ner, each a DVC stage.

    python -m flows.ner                                    # params.yaml as it is: dvc repro
    python -m flows.ner --preset seed_readme --epochs 5    # a DVC experiment

The parameters are the ``ner`` sections of params.yaml (``flows/forms.py``). No server
is needed: a temporary local Prefect server starts, MLflow writes to mlflow.db.
"""
import argparse
from collections.abc import Callable

from prefect import Flow, task

from flows.forms import (FlowForms, add_set_option, chosen_values, entrypoint_getattr, module_flow, overrides_from,
                         parse_sets, run_cli)
from flows.reporting import publish_summary
from flows.runner import ParentRun, run_pipeline

STAGES = ("prepare_ner", "train_ner")


@task(task_run_name="register gnn-ner")
def register(run_id: str) -> tuple[str, int, bool]:
    """Register the trained model in the MLflow model registry as gnn-ner; no new version
    when the latest one holds the same files (a cached run)."""
    from tasks.serving.registry import register_ner

    return ("gnn-ner", *register_ner(run_id))


def build_ner_flow(forms: FlowForms, parent: ParentRun | None = None) -> Flow:
    """The ner flow with ``forms``' Run form; ``parent``: the pipeline run it runs in."""
    sections = forms.sections("ner")
    Data, Spacy, Embeddings, Model, Train = (sections[k] for k in ("data", "spacy", "embeddings", "model", "train"))

    def ner_flow(data: Data = Data(), spacy: Spacy = Spacy(), embeddings: Embeddings = Embeddings(),
                 model: Model = Model(), train: Train = Train()) -> dict:
        """Train and score the GCN tagger on CoNLL-2003. The fields show params.yaml; a run
        with changed values is a DVC experiment and leaves the workspace as it is."""
        overrides = overrides_from("ner", {"data": data, "spacy": spacy, "embeddings": embeddings, "model": model,
                                           "train": train})
        metrics, run = run_pipeline("ner", "ner", STAGES, overrides, "metrics/ner.json", register, parent)
        rows = [(split, *(f"{metrics[split][k]:.4f}" for k in ("precision", "recall", "f1")))
                for split in ("dev", "test")]
        rows += [(f"test {t}", *(f"{v[k]:.4f}" for k in ("precision", "recall", "f1")))
                 for t, v in metrics["test"]["per_type"].items()]
        publish_summary("NER results", rows, ("split", "precision", "recall", "F1"), run)
        print(f"test strict span F1 {metrics['test']['f1']:.4f} (dev {metrics['dev']['f1']:.4f}); "
              f"MLflow run {run.info.run_id}")
        return metrics

    return module_flow(ner_flow, "ner")


# flows/ner.py:ner_flow, the deployments' entrypoint: built when looked up
__getattr__ = entrypoint_getattr(__name__, "ner_flow", build_ner_flow)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_set_option(parser)
    parser.add_argument("--preset", choices=["seed_readme", "seed_train", "default"], help="ner.model.preset")
    for name in ("epochs", "seed", "batch_size"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, dest=name, help=f"ner.train.{name}")
    args = parser.parse_args()

    def prepare() -> Callable[[], object]:
        overrides = parse_sets(args.sets)
        if args.preset is not None:
            overrides["ner.model.preset"] = args.preset
        overrides.update({f"ner.train.{k}": getattr(args, k) for k in ("epochs", "seed", "batch_size")
                          if getattr(args, k) is not None})
        values = chosen_values("ner", overrides)
        flow = build_ner_flow(FlowForms.read())
        return lambda: flow(**values)

    run_cli(prepare)


if __name__ == "__main__":
    main()
