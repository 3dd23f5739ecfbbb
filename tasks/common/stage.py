"""The one stage runner: what every DVC stage's ``main()`` does around its work.

    def main() -> None:
        run_stage("sample_graph", lambda params, mlflow: sample(params.tags))

``run_stage`` validates ``params.yaml`` before any work, opens the stage's MLflow run
(a child of the flow's run when a flow started it), logs the params sections that
``dvc.yaml`` lists for the stage, runs the work, then logs the stage's metrics files,
PNG images of its declared DVC plots and any artifacts the work returns. Expected
failures (bad data, bad params) end with one clear line and exit code 2.
"""
from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tasks.common.files import DataError, OutputWriteError, read_json
from tasks.common.params import Params, ParamsError, flatten, load_params, section
from tasks.common.paths import STAGES

DVC_YAML = Path("dvc.yaml")


@dataclass
class StageResult:
    """What a stage's work hands back to the runner for MLflow (files are already written)."""

    metrics: dict[str, Any] = field(default_factory=dict)   # nested; numbers are logged
    artifacts: list[tuple[Path, str | None]] = field(default_factory=list)  # (file, artifact folder)


def stage_spec(stage: str, dvc_yaml: Path = DVC_YAML) -> dict[str, Any]:
    """``stage``'s entry in ``dvc.yaml``."""
    import yaml

    if not dvc_yaml.is_file():
        raise DataError(dvc_yaml.resolve(), None, "not found: run stages from the project root (as DVC does)")
    return yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))["stages"][stage]


def declared_params(stage: str, dvc_yaml: Path = DVC_YAML) -> list[str]:
    """The params.yaml sections ``dvc.yaml`` lists for ``stage`` (what DVC tracks)."""
    spec = stage_spec(stage, dvc_yaml)
    keys: list[str] = []
    for entry in spec.get("params", []):
        keys += list(entry.values())[0] if isinstance(entry, dict) else [entry]
    return keys


def declared_sources(stage: str, dvc_yaml: Path = DVC_YAML) -> list[Path]:
    """The Python files ``dvc.yaml`` lists as deps of ``stage``: the one list of the code a
    stage's result depends on (tests/unit/test_architecture.py checks that it covers every
    project module the stage imports)."""
    deps = stage_spec(stage, dvc_yaml).get("deps", [])
    return [dvc_yaml.parent / d for d in deps if d.endswith(".py")]


def stage_params(params: Params, stage: str) -> dict[str, Any]:
    """The declared params (sections or single keys) as dotted keys, for MLflow."""
    flat: dict[str, Any] = {}
    for dotted in declared_params(stage):
        value = section(params, dotted)
        flat.update(flatten(value, dotted + ".") if isinstance(value, dict) else {dotted: value})
    return flat


def run_stage(stage: str, work: Callable[[Params, Any], Any]) -> None:
    """Entry point of a stage module (see the module docstring). ``work(params, mlflow)``
    writes the stage's outputs; a :class:`StageResult` it returns is logged (any other
    return value is ignored: the metrics files are logged anyway)."""
    from tasks.common.interrupts import keep_interrupts
    from tasks.common.settings import quiet_environment
    from tasks.common.tracking import log_metrics_tree, stage_run

    keep_interrupts()  # a Ctrl-C that lands in a finaliser still stops the stage
    quiet_environment()
    files = STAGES[stage]
    try:
        params = load_params()
        with stage_run(stage, files.experiment, stage_params(params, stage)) as mlflow:
            result = work(params, mlflow)
            result = result if isinstance(result, StageResult) else StageResult()
            log_metrics_tree(mlflow, result.metrics)
            for path in files.metrics:
                log_metrics_tree(mlflow, read_json(path))
                mlflow.log_artifact(str(path))
            log_plot_images(mlflow, stage)
            for path, folder in result.artifacts:
                mlflow.log_artifact(str(path), artifact_path=folder)
    except Exception as err:
        expected = _expected_failure(err)
        if expected is None:
            raise
        if expected is not err:  # e.g. a full disk that also stopped MLflow closing the run
            print(f"(then: {type(err).__name__}: {str(err).splitlines()[0][:200]})", file=sys.stderr)
        message = expected.strerror if isinstance(expected, OutputWriteError) else str(expected)
        print(f"error: {message}", file=sys.stderr)
        sys.exit(3 if isinstance(expected, OutputWriteError) else 2)
    except KeyboardInterrupt:
        print(f"{stage} interrupted: no output was left half-written (each is written whole or not at all)",
              file=sys.stderr)
        sys.exit(130)


def _expected_failure(err: BaseException) -> BaseException | None:
    """Bad data, bad params or an output that could not be written, found in ``err`` or
    the exceptions it was raised while handling."""
    todo, visited = [err], set()
    while todo:
        seen = todo.pop(0)
        if seen is None or id(seen) in visited:
            continue
        visited.add(id(seen))
        if isinstance(seen, (DataError, ParamsError, OutputWriteError)):
            return seen
        todo += [seen.__cause__, seen.__context__]
    return None


def log_plot_images(mlflow: Any, stage: str) -> None:
    """PNG images of the stage's DVC plots, drawn from their dvc.yaml definitions."""
    from tasks.common.figures import dvc_plots

    if not STAGES[stage].plots:
        return
    with tempfile.TemporaryDirectory() as tmp:
        for png in dvc_plots(DVC_YAML, [stage], Path(tmp)):
            mlflow.log_artifact(str(png), artifact_path="plots")
