"""Drive the Prefect and MLflow UIs in headless Debian Chromium (playwright, no browser
download) and assert on what a person sees. Used by the browser test and to take the
README screenshots from running servers:

    python -m tests.e2e.ui_pages --flow-run <prefect flow-run id> --experiment pipeline --out docs/images
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from flows.reporting import ML_VIEW
from tests.support import wait_until

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google on a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000


def chromium_path() -> str:
    path = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path is None:
        raise RuntimeError("Debian chromium is not installed: `apt-get install -y chromium` (make test does it)")
    return path


@contextmanager
def browser_page() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 950})
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def prefect_flow_run(page, ui: str, flow_run_id: str, artifact: str, out: Path) -> str:
    """Open the flow-run page, wait until it shows the run as Completed, then open the
    flow run's markdown artifact ``artifact`` (its metric table). Returns what was seen."""
    page.goto(f"{ui}/runs/flow-run/{flow_run_id}")
    page.get_by_text("Completed").first.wait_for()
    page.wait_for_timeout(1500)  # let the timeline render for the screenshot
    page.screenshot(path=str(out / "prefect_flow_run.png"))
    text = page.inner_text("body")
    page.get_by_text("Artifacts", exact=True).first.click()
    page.get_by_text(artifact, exact=True).first.click()
    page.get_by_text("MLflow run").first.wait_for()
    page.wait_for_timeout(500)
    page.screenshot(path=str(out / "prefect_artifact.png"), full_page=True)
    return text + "\n" + page.inner_text("body")


def prefect_quick_run(page, ui: str, deployment_id: str, out: Path) -> str:
    """On the deployment's page press Run, then Quick run, as a person would, and wait
    until the server holds the flow run the click created (the deployment's only run
    created since); returns its id. It waits on the run, not on the UI's toast: once
    (the file run alone, 2026-12-06) the toast was not seen within a minute, and nothing
    said whether the click had made a run; a failure now leaves a screenshot."""
    page.goto(f"{ui}/deployments/deployment/{deployment_id}")
    before = {r["id"] for r in _deployment_runs(ui, deployment_id)}
    page.get_by_role("button", name=re.compile(r"^\s*Run\s*$")).first.click()
    page.get_by_text("Quick run", exact=True).first.click()
    try:
        new = wait_until("the flow run that Quick run makes", lambda: [
            r["id"] for r in _deployment_runs(ui, deployment_id) if r["id"] not in before], TIMEOUT_MS / 1000, poll=1)
    except AssertionError:
        page.screenshot(path=str(out / "prefect_quick_run_failed.png"))
        raise
    page.screenshot(path=str(out / "prefect_quick_run.png"))
    (run_id,) = new
    return run_id


def prefect_cancel(page, ui: str, flow_run_id: str, out: Path) -> None:
    """On a running flow run's page press Cancel, then Confirm in the dialog that follows,
    as a person would (the UI then sets the run Cancelling; its runner stops it)."""
    page.goto(f"{ui}/runs/flow-run/{flow_run_id}")
    page.get_by_text("Running").first.wait_for()
    page.get_by_role("button", name=re.compile(r"^\s*Cancel\s*$")).first.click()
    page.get_by_text("Cancel Flow Run").first.wait_for()
    page.screenshot(path=str(out / "prefect_cancel.png"))
    page.get_by_role("button", name=re.compile(r"^\s*Confirm\s*$")).first.click()
    try:  # the server's state, not the UI's toast (see prefect_quick_run)
        wait_until("the Confirm click to set the run Cancelling", lambda: api(
            f"{ui}/api/flow_runs/{flow_run_id}")["state"]["type"] in {"CANCELLING", "CANCELLED"}, TIMEOUT_MS / 1000,
                   poll=0.5)
    except AssertionError:
        page.screenshot(path=str(out / "prefect_cancel_failed.png"))
        raise


def _deployment_runs(ui: str, deployment_id: str) -> list[dict]:
    return api(f"{ui}/api/flow_runs/filter", {"deployments": {"id": {"any_": [deployment_id]}}})


def _close_assistant(page) -> None:
    close = page.get_by_role("button", name="Close")
    if close.count():
        close.first.click()


def prefect_run_form(page, ui: str, deployment_id: str, wait_for: str, out: Path) -> str:
    """Open a deployment's custom Run form (what "Run > Custom run" shows), wait for the
    text ``wait_for``, and return the page text plus the values of its input fields."""
    page.goto(f"{ui}/deployments/deployment/{deployment_id}/run")
    page.get_by_text(wait_for).first.wait_for()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(out / "prefect_run_form.png"), full_page=True)
    values = page.eval_on_selector_all("input, textarea, select", "els => els.map(e => e.value)")
    return page.inner_text("body") + "\n" + "\n".join(values)


def mlflow_experiment(page, ui: str, experiment_id: str, run_name: str, out: Path) -> str:
    """The experiment's runs table, where runs are compared."""
    page.goto(f"{ui}/#/experiments/{experiment_id}/runs?{ML_VIEW}")
    page.get_by_text(run_name).first.wait_for()
    _close_assistant(page)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(out / "mlflow_experiment.png"))
    return page.inner_text("body")


def mlflow_run(page, ui: str, experiment_id: str, run_id: str, metric: str, out: Path) -> str:
    """One run's overview: its metrics table (names and values)."""
    page.goto(f"{ui}/#/experiments/{experiment_id}/runs/{run_id}?{ML_VIEW}")
    page.get_by_text(metric).first.wait_for()
    _close_assistant(page)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(out / "mlflow_run.png"), full_page=True)
    return page.inner_text("body")


def mlflow_compare(page, ui: str, experiment_id: str, run_ids: list[str], metric: str, out: Path) -> str:
    """MLflow's run comparison page for ``run_ids`` (what Select runs -> Compare opens)."""
    runs = json.dumps(run_ids).replace(" ", "")
    page.goto(f"{ui}/#/compare-runs?runs={runs}&experiments={json.dumps([experiment_id])}")
    page.get_by_text(metric).first.wait_for()
    _close_assistant(page)
    # MLflow scrolls inside its own pane, so a full-page shot stops at the viewport:
    # a tall viewport shows the parameter and metric tables under the plot.
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": 2400})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(out / "mlflow_compare.png"))
    page.set_viewport_size(size)
    return page.inner_text("body")


def api(url: str, payload: dict | None = None, tries: int = 4):
    """GET (or POST ``payload``) a JSON API; a 503 (Prefect's answer while its database is
    busy, seen on 2 loaded cores) is retried a few times, 2 s apart, then raised."""
    data = None if payload is None else json.dumps(payload).encode()
    for attempt in range(tries):
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            if err.code != 503 or attempt == tries - 1:
                raise
            time.sleep(2)


def main() -> None:
    parser = argparse.ArgumentParser(description="screenshots of a finished flow run in both UIs")
    parser.add_argument("--flow-run", required=True, help="Prefect flow-run id")
    parser.add_argument("--experiment", default="pipeline", help="MLflow experiment name")
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--prefect", default="http://127.0.0.1:4200")
    parser.add_argument("--mlflow", default="http://127.0.0.1:5000")
    parser.add_argument("--compare", default="tags", help="experiment whose two latest flow runs are compared")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    exp = api(f"{args.mlflow}/api/2.0/mlflow/experiments/get-by-name?experiment_name={args.experiment}")
    exp_id = exp["experiment"]["experiment_id"]
    runs = api(f"{args.mlflow}/api/2.0/mlflow/runs/search", {"experiment_ids": [exp_id], "max_results": 20,
                                                              "filter": "tags.kind = 'flow'"})["runs"]
    top = next(r["info"] for r in runs  # the newest top-level flow run (not a nested subflow's)
               if not any(t["key"] == "mlflow.parentRunId" for t in r["data"].get("tags", [])))
    with browser_page() as page:
        prefect_flow_run(page, args.prefect, args.flow_run, f"{args.experiment}-results", args.out)
        mlflow_experiment(page, args.mlflow, exp_id, top["run_name"], args.out)
        mlflow_run(page, args.mlflow, exp_id, top["run_id"], "ner.test.f1", args.out)
        cmp_exp = api(f"{args.mlflow}/api/2.0/mlflow/experiments/get-by-name?experiment_name={args.compare}")
        cmp_id = cmp_exp["experiment"]["experiment_id"]
        latest = api(f"{args.mlflow}/api/2.0/mlflow/runs/search", {"experiment_ids": [cmp_id], "max_results": 2,
                                                                    "filter": "tags.kind = 'flow'"})["runs"]
        mlflow_compare(page, args.mlflow, cmp_id, [r["info"]["run_id"] for r in latest], "concat.macro_precision",
                       args.out)
    print(f"screenshots in {args.out}")


if __name__ == "__main__":
    main()
