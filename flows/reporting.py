"""What a flow run reports: the git state and the command that reproduces it, Prefect
markdown artifacts with the metric tables, the DVC plots page in MLflow."""
from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tasks.common.settings import PROJECT_ROOT, settings
from tasks.common.tracking import tracking_uri


# What DVC writes: a change there is a result of a run, not a different input.
OUTPUT_PATHS = ("dvc.lock", "metrics/", "plots/")


def changed_inputs(porcelain: str) -> list[str]:
    """Tracked paths with uncommitted changes (``git status --porcelain``), less DVC's outputs."""
    paths = [line[3:].split(" -> ")[-1] for line in porcelain.splitlines() if line.strip()]
    return [p for p in paths if not p.startswith(OUTPUT_PATHS)]


def git_commit() -> str:
    """HEAD, with ``-dirty`` when tracked inputs (code, params.yaml, dvc.yaml, .dvc
    files) have uncommitted changes."""
    proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True)
    commit = proc.stdout.strip() or "unknown"
    return commit + ("-dirty" if changed_inputs(status.stdout) else "")


def reproduce_command(overrides: dict[str, Any], target: str, commit: str) -> str:
    """The shell command that re-runs a flow run's stages with DVC alone. A run from a
    tree with uncommitted changes is not reproducible from its commit, and says so
    instead of naming the clean commit."""
    def value(v: Any) -> str:
        return v if isinstance(v, str) else json.dumps(v).replace(" ", "")

    sets = " ".join(f"-S '{key}={value(v)}'" for key, v in sorted(overrides.items()))
    command = f"dvc exp run {sets + ' ' if sets else ''}{target}"
    if commit == "unknown":
        return command
    if commit.endswith("-dirty"):
        return (f"not reproducible from a commit: the work tree had uncommitted changes on top of "
                f"{commit.removesuffix('-dirty')}; with those changes: {command}")
    return f"git checkout {commit} && {command}"


# MLflow 3's UI opens experiments in its GenAI view unless told otherwise (the choice is
# a query parameter, else the browser's last choice); these runs are model training.
ML_VIEW = "workflowType=machine_learning"


def mlflow_run_url(experiment_id: str, run_id: str) -> str:
    return f"{settings().mlflow_ui}/#/experiments/{experiment_id}/runs/{run_id}?{ML_VIEW}"


def headline(flow: str, metrics: dict) -> tuple[dict[str, float], dict[str, str]]:
    """The few figures people compare runs by, as MLflow metrics named ``headline.*`` (and
    tags saying what they are): NER test and dev F1; for tags, the test LRAP and macro F1
    under the rule every method shares (per-tag thresholds) of the method with the best
    validation LRAP (chosen on validation, as every choice)."""
    if flow == "ner":
        return {"headline.test_f1": metrics["test"]["f1"], "headline.dev_f1": metrics["dev"]["f1"]}, {}
    if flow == "tags":
        from tasks.tags.evaluation import methods

        best = max(methods(metrics), key=lambda k: metrics[k]["validation"]["lrap"])
        return ({"headline.macro_f1_thresholded": metrics[best]["macro_f1_thresholded"],
                 "headline.lrap": metrics[best]["lrap"]}, {"headline_method": best})
    return {}, {}


def run_label(flow: str, overrides: dict[str, Any], limit: int = 120) -> str:
    """A run's name in MLflow: the flow and what differs from params.yaml, e.g.
    ``tags sage.epochs=2 evaluate.seeds=[42]``; ``tags (params.yaml)`` without overrides."""
    if not overrides:
        return f"{flow} (params.yaml)"
    parts = [f"{key.removeprefix(flow + '.')}={json.dumps(value, separators=(',', ':')).strip(chr(34))}"
             for key, value in sorted(overrides.items())]
    label = " ".join([flow, *parts])
    return label if len(label) <= limit else label[:limit - 1] + "…"


def prefect_run_note() -> dict[str, str]:
    """MLflow tags that link a run to the Prefect flow run that made it (its id, and as
    the run's description a link into the Prefect UI when a server address is known)."""
    from prefect.runtime import flow_run
    from prefect.settings import PREFECT_API_URL

    run_id, api = flow_run.get_id(), PREFECT_API_URL.value()
    if not run_id:
        return {}
    tags = {"prefect_flow_run_id": run_id}
    if api:
        url = f"{api.removesuffix('/').removesuffix('/api')}/runs/flow-run/{run_id}"
        tags.update({"prefect_flow_run_url": url,
                     "mlflow.note.content": f"Prefect flow run: [{flow_run.get_name()}]({url})"})
    return tags


def publish_summary(title: str, rows: list[tuple[str, ...]], header: tuple[str, ...], run) -> None:
    """A markdown table of the key metrics and a link to the MLflow run, as a Prefect
    artifact on the flow run."""
    import mlflow
    from prefect.artifacts import create_markdown_artifact

    lines = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", f"MLflow run: [{run.info.run_id}]({mlflow_run_url(run.info.experiment_id, run.info.run_id)})"]
    reproduce = mlflow.MlflowClient(tracking_uri()).get_run(run.info.run_id).data.tags.get("reproduce")
    if reproduce:
        lines += ["", "Reproduce with DVC alone:", "", f"    {reproduce}"]
    create_markdown_artifact("\n".join(lines), key=title.lower().replace(" ", "-").replace("_", "-"),
                             description=title)


def log_plots_page(mlflow) -> None:
    """The HTML page `dvc plots show` renders, into the flow's MLflow run (each stage's
    run already holds PNG images of its own plots). The page depends only on dvc.yaml
    and the plot files, whose hashes dvc.lock holds: it is rendered once per (dvc.yaml,
    dvc.lock) and kept under ``.cache/plots-page/``, so a cached run does not start
    DVC to draw the same page again."""
    import hashlib

    from tasks.common.files import atomic_path

    key = hashlib.md5()
    for name in ("dvc.yaml", "dvc.lock"):
        path = PROJECT_ROOT / name
        key.update(path.read_bytes() if path.is_file() else b"")
    page = PROJECT_ROOT / ".cache" / "plots-page" / key.hexdigest()
    if not (page / "index.html").is_file():
        try:
            with atomic_path(page) as html:  # whole pages only
                subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "-o", str(html)],
                               cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
        except (subprocess.CalledProcessError, RuntimeError):  # DVC failed or wrote nothing
            return
    if (page / "index.html").is_file():
        mlflow.log_artifacts(str(page), artifact_path="dvc_plots")
