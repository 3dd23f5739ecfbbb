"""Faults around a flow run, each asserting what the user sees and that nothing is lost:
the flow process killed or interrupted (Ctrl-C), the tracking server or the Prefect server away, params.yaml
invalid (also when edited while a run waits in the queue)."""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from flows.processes import free_port, port_busy
from tests.support import TINY_TAGS, make_project, processes_using, run_ok, wait_until
from tests.synthetic import write_citeulike_slice

pytestmark = pytest.mark.e2e
FLOW = [sys.executable, "-m", "flows.tags"]


@pytest.fixture
def tags_project(tmp_path):
    proj, env = make_project(tmp_path, {**TINY_TAGS, "tags.sage.epochs": 2})
    write_citeulike_slice(proj / "data" / "raw" / "citeulike-t")
    return proj, env


def start_until(cmd, proj, env, marker: str) -> tuple[subprocess.Popen, str]:
    """Start ``cmd`` in its own process group, as a terminal does; return it and what it
    printed once it printed ``marker``. Ctrl-C's SIGINT gets its default action back: a
    pytest-xdist worker ignores it, and an ignored signal stays ignored across exec."""
    proc = subprocess.Popen(cmd, cwd=proj, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if marker in line:
            return proc, "".join(seen)
    raise AssertionError(f"{marker!r} never printed:\n{''.join(seen)[-3000:]}")


def temporary_server_port(printed: str) -> int:
    """The port of the temporary Prefect server a flow command line said it started."""
    found = re.search(r"Starting temporary server on http://127\.0\.0\.1:(\d+)", printed)
    assert found, printed[-3000:]
    return int(found.group(1))


def wait_closed(port: int, seconds: float) -> None:
    """Return once nothing listens on ``port`` any more; fail after ``seconds``."""
    wait_until(f"port {port} to close", lambda: not port_busy(port), timeout=seconds, poll=0.2)


def mlflow_runs(env):
    import mlflow

    client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
    return client, client.search_runs([e.experiment_id for e in client.search_experiments()])


def test_killed_flow_process_then_the_next_run_starts_cleanly(tags_project):
    proj, env = tags_project
    proc, printed = start_until(FLOW, proj, env, "Running stage 'train_sage'")
    os.kill(proc.pid, signal.SIGKILL)  # the flow process itself ...
    proc.wait(30)
    # ... takes its temporary Prefect server with it (it runs in a session of its own)
    wait_closed(temporary_server_port(printed), 30)
    time.sleep(1)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # ... and what it started in its group (the stage)
    except ProcessLookupError:
        pass
    client, runs = mlflow_runs(env)
    dead = next(r for r in runs if r.data.tags.get("kind") == "flow")
    assert dead.info.status == "RUNNING"  # nobody could end it

    killed_at = time.time()
    nxt = run_ok(FLOW, proj, env, timeout=900)  # no "workspace busy": the lock died with its holder
    assert "marked" in nxt.stdout + nxt.stderr and "MLflow run(s) of killed processes FAILED" in nxt.stdout + nxt.stderr
    assert client.get_run(dead.info.run_id).info.status == "FAILED"
    _, runs = mlflow_runs(env)
    assert [r.info.run_name for r in runs if r.info.status == "RUNNING"] == []
    flows = [r for r in runs if r.data.tags.get("kind") == "flow" and r.info.run_id != dead.info.run_id]
    assert [r.info.status for r in flows] == ["FINISHED"]
    # The next run wrote the evaluation afresh (the kill came before it), and it learned something.
    assert (proj / "metrics" / "tags.json").stat().st_mtime > killed_at
    assert json.loads((proj / "metrics" / "tags.json").read_text())["concat"]["macro_f1"] > 0


@pytest.mark.parametrize("signalled", ["ctrl-c", "sigterm"])
def test_an_interrupted_flow_ends_in_seconds_and_leaves_no_output_half_written(tmp_path, signalled):
    """Ctrl-C while a stage trains: the terminal interrupts the whole process group. A
    SIGTERM to the flow's process alone (`kill PID`) reaches no stage: the flow passes
    it on as SIGINT. Either way the stage stops without writing,
    the flow reports its runs ended and exits within seconds (130 after Ctrl-C; killed by
    the SIGTERM, as Prefect re-raises it), and its temporary Prefect server stops with
    it. (When that server sat in the flow's group, Ctrl-C stopped it first, and the flow
    retried its reports to it with back-off for 218 s; before the SIGTERM was passed on,
    the stage went on until its output pipe broke.)"""
    proj, env = make_project(tmp_path, {**TINY_TAGS, "tags.sage.epochs": 500, "tags.sage.tolerance": 0.0,
                                        "tags.sage.patience": 500})
    write_citeulike_slice(proj / "data" / "raw" / "citeulike-t")
    proc, printed = start_until(FLOW, proj, env, "seed 1 epoch 3/500")  # the stage is training
    if signalled == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGTERM)
    interrupted = time.monotonic()
    out, _ = proc.communicate(timeout=300)
    seconds = time.monotonic() - interrupted
    assert proc.returncode == (130 if signalled == "ctrl-c" else -signal.SIGTERM) and seconds < 30, (
        seconds, out[-4000:])
    said = ("interrupted: a stage stopped by the interrupt leaves no output" if signalled == "ctrl-c"
            else "Execution was aborted by a termination signal")
    assert said in out and "train_sage interrupted: no output was left half-written" in out, out[-4000:]
    wait_closed(temporary_server_port(printed), 10)
    assert processes_using(proj) == []  # the stage too has ended, not only the flow
    assert not (proj / "artifacts" / "tags" / "sage_encoder.keras").exists()
    assert not (proj / "metrics" / "tags.json").exists()
    status = run_ok([sys.executable, "-m", "dvc", "status", "train_sage"], proj, env).stdout
    assert "train_sage" in status  # not committed: the next run trains it again
    _, runs = mlflow_runs(env)
    assert [r.info.status for r in runs if r.data.tags.get("kind") == "flow"] == ["FAILED"]
    assert [r.info.status for r in runs if r.data.tags.get("stage") == "train_sage"] == ["FAILED"]
    assert "RUNNING" not in {r.info.status for r in runs}


def test_tracking_server_unreachable_fails_fast_naming_it(tags_project):
    proj, env = tags_project
    uri = f"http://127.0.0.1:{free_port()}"
    start = time.monotonic()
    proc = subprocess.run(FLOW, cwd=proj, env={**env, "MLFLOW_TRACKING_URI": uri}, capture_output=True, text=True,
                          timeout=60)
    elapsed = time.monotonic() - start
    assert proc.returncode != 0 and elapsed < 10, elapsed
    assert f"MLflow tracking server {uri} is not reachable" in proc.stderr
    assert not (proj / "metrics").exists() and "Running stage" not in proc.stdout


def test_invalid_params_refuse_before_any_work_naming_the_key(tags_project):
    proj, env = tags_project
    before = (proj / "params.yaml").read_text()
    text = before.replace("\n    aggregator: null", "\n    aggregator: median")
    assert text != before  # the edit took: the test must not pass on a valid file
    (proj / "params.yaml").write_text(text)
    proc = subprocess.run(FLOW, cwd=proj, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "tags.sage.aggregator" in proc.stderr and "params.yaml" in proc.stderr
    assert not (proj / "metrics").exists()


QUEUED = """
from pathlib import Path
from flows.tags import tags_flow   # the served process built the flow (and its form) earlier
params = Path("params.yaml")
params.write_text(params.read_text().replace("    epochs: 2", "    epochs: -4"))   # edited meanwhile
tags_flow()                        # then the queued run starts
"""


def test_params_edited_invalid_while_a_run_is_queued(tags_project):
    proj, env = tags_project
    proc = subprocess.run([sys.executable, "-c", QUEUED], cwd=proj, env=env, capture_output=True, text=True,
                          timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "tags.sage.epochs" in out and "greater than or equal to 1" in out
    assert not (proj / "metrics").exists() and "Running stage" not in out


def test_prefect_server_gone_mid_run(tags_project):
    """The Prefect server dies while a stage runs. What happens: the stage (a DVC process)
    runs to its end and its outputs are committed by DVC; the flow process cannot report
    to Prefect and fails with a connection error, ending its MLflow run FAILED; the next
    run finds that stage up to date and finishes the rest. The client's retries are cut
    (Prefect's defaults kept the flow retrying for more than 3 minutes)."""
    proj, env = tags_project
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                               "--port", str(port)], cwd=proj, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{api}/health", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "Prefect server did not start"
                time.sleep(1)
        flow_env = {**env, "PREFECT_API_URL": api, "PREFECT_CLIENT_MAX_RETRIES": "1", "PREFECT_API_REQUEST_TIMEOUT": "10"}
        proc, _ = start_until(FLOW, proj, flow_env, "Running stage 'train_sage'")
        os.killpg(server.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=240)
    finally:
        for group in (server.pid,):
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert proc.returncode != 0
    assert f"error: lost the Prefect server at {api} (" in out, out[-3000:]
    assert "Traceback" not in out.split("error: lost the Prefect server")[-1]
    client, runs = mlflow_runs(env)
    flow_runs = [r for r in runs if r.data.tags.get("kind") == "flow"]
    assert [r.info.status for r in flow_runs] == ["FAILED"], out[-6000:]
    status = run_ok([sys.executable, "-m", "dvc", "status", "train_sage"], proj, env).stdout
    assert "train_sage" not in status  # the stage that was running finished and was committed
    run_ok(FLOW, proj, env, timeout=900)  # without that server: a temporary one
    assert (proj / "metrics" / "tags.json").is_file()
