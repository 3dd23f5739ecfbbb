"""Prefect flow for the tag pipeline: import_articles -> embed_text -> project_graph ->
sample_graph -> train_sage -> evaluate_tags, each a DVC stage.

    python -m flows.tags                                   # params.yaml as it is: dvc repro
    python -m flows.tags -S tags.sage.epochs=5 --seed 7    # a DVC experiment

The parameters are the ``tags`` sections of params.yaml (``flows/forms.py``).
"""
import argparse
from collections.abc import Callable

from prefect import Flow, task

from flows.forms import (FlowForms, add_set_option, chosen_values, entrypoint_getattr, module_flow, overrides_from,
                         parse_sets, run_cli)
from flows.reporting import publish_summary
from flows.runner import ParentRun, run_pipeline
from tasks.tags.evaluation import COMPARED, methods

STAGES = ("import_articles", "embed_text", "project_graph", "sample_graph", "train_sage", "evaluate_tags")


@task(task_run_name="register gnn-tags")
def register(run_id: str) -> tuple[str, int, bool]:
    """Register the trained model in the MLflow model registry as gnn-tags; no new version
    when the latest one holds the same files (a cached run)."""
    from tasks.serving.registry import register_tags

    return ("gnn-tags", *register_tags(run_id))


def build_tags_flow(forms: FlowForms, parent: ParentRun | None = None) -> Flow:
    """The tags flow with ``forms``' Run form; ``parent``: the pipeline run it runs in."""
    sections = forms.sections("tags")
    Data, Text, Projection, Sampling = sections["data"], sections["text"], sections["projection"], sections["sampling"]
    Sage, Propagation, Evaluate = sections["sage"], sections["propagation"], sections["evaluate"]

    def tags_flow(data: Data = Data(), text: Text = Text(), projection: Projection = Projection(),
                  sampling: Sampling = Sampling(), sage: Sage = Sage(), propagation: Propagation = Propagation(),
                  evaluate: Evaluate = Evaluate()) -> dict:
        """GraphSAGE-enhanced text embeddings for multi-label tags. The fields show params.yaml;
        a run with changed values is a DVC experiment and leaves the workspace as it is."""
        overrides = overrides_from("tags", {"data": data, "text": text, "projection": projection,
                                            "sampling": sampling, "sage": sage, "propagation": propagation,
                                            "evaluate": evaluate})
        metrics, run = run_pipeline("tags", "tags", STAGES, overrides, "metrics/tags.json", register, parent)
        seeds = len(metrics["setup"]["seeds"])
        rows = [(name, *(f"{metrics[name][k]:.4f} ± {metrics[name][k + '_std']:.4f}" for k in COMPARED),
                 f"{metrics[name]['validation']['lrap']:.4f}") for name in methods(metrics)]
        publish_summary("Tag results", rows, (f"method (test mean ± std, {seeds} seeds)",) + COMPARED
                        + ("validation lrap",), run)
        for name in methods(metrics):
            m = metrics[name]
            print(f"{name:18s} LRAP {m['lrap']:.4f} ± {m['lrap_std']:.4f}  thresholded macro F1 "
                  f"{m['macro_f1_thresholded']:.4f} ± {m['macro_f1_thresholded_std']:.4f}  "
                  f"(test mean over {seeds} seed(s))")
        print(f"MLflow run {run.info.run_id}")
        return metrics

    return module_flow(tags_flow, "tags")


# flows/tags.py:tags_flow, the deployments' entrypoint: built when looked up
__getattr__ = entrypoint_getattr(__name__, "tags_flow", build_tags_flow)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_set_option(parser)
    parser.add_argument("--epochs", type=int, help="tags.sage.epochs")
    parser.add_argument("--seed", type=int, help="tags.sampling.seed, and tags.evaluate.seeds = [SEED] (one run)")
    args = parser.parse_args()

    def prepare() -> Callable[[], object]:
        overrides = parse_sets(args.sets)
        if args.epochs is not None:
            overrides["tags.sage.epochs"] = args.epochs
        if args.seed is not None:
            overrides.update({"tags.sampling.seed": args.seed, "tags.evaluate.seeds": [args.seed]})
        values = chosen_values("tags", overrides)
        flow = build_tags_flow(FlowForms.read())
        return lambda: flow(**values)

    run_cli(prepare)


if __name__ == "__main__":
    main()
