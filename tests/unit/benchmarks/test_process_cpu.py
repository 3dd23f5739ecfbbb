"""benchmarks/process_cpu.py: command lines sorted into kinds, CPU counted from the first
sample on (a pid reused is another process), and a real busy child found in /proc with
the CPU it spent."""
import subprocess
import sys
import time

import pytest

from tests.support import load_benchmark


@pytest.fixture(scope="module")
def cpu():
    return load_benchmark("process_cpu")


@pytest.mark.parametrize("command, expected", [
    ("/p/.venv/bin/python -m tasks.train_sage", "stage train_sage"),
    ("/p/.venv/bin/python -m joblib.externals.loky.backend.popen_loky_posix --process-name x", "evaluate_tags' fit "
                                                                                                  "processes (joblib)"),
    ("/p/.venv/bin/python -m uvicorn --app-dir /x --factory prefect.server.api.server:create_app --port 8164",
     "temporary Prefect server (a flow command's own)"),
    ("/p/.venv/bin/python3.11 /p/.venv/bin/prefect server start --host 127.0.0.1", "Prefect server (make ui, "
                                                                                   "make cluster)"),
    ("/p/.venv/bin/python -m flows.cluster submit tags --wait", "cluster command (flows.cluster)"),
    ("/p/.venv/bin/python -m flows.tags --epochs 3", "flow command (flows.tags)"),
    ("/p/.venv/bin/python -m dvc repro --single-item train_sage", "DVC"),
    ("/p/.venv/bin/python -u -c import sys;exec(eval(sys.stdin.readline()))", "pytest worker (the tests' own code)"),
    ("postgres: gnn mlflow 127.0.0.1(5432) idle", "PostgreSQL"),
    ("/usr/lib/postgresql/15/bin/postgres -D /tmp/c/pg -p 5432", "PostgreSQL"),
    ("/p/.venv/bin/python -m flows.cluster restart postgres", "cluster command (flows.cluster)"),
    ("[kworker/0:1]", "kernel threads"),
    ("/usr/bin/python3 -c pass", "other Python"),
    ("/usr/bin/sleep 5", "other"),
])
def test_command_lines_sorted_into_kinds(cpu, command, expected):
    assert cpu.kind(command) == expected


def test_cpu_counts_from_the_first_sample_and_a_reused_pid_is_another_process(cpu):
    readings = iter([
        {(1, 10): 50.0, (2, 20): 3.0},                   # the first sample: both ran before
        {(1, 10): 52.0, (2, 20): 3.0, (3, 30): 1.5},     # pid 3 starts
        {(1, 10): 53.0, (3, 31): 0.5},                   # pid 2 ended; pid 3 ended and was reused
    ])
    names = {1: "postgres: x", 2: "/bin/sleep 1", 3: "python -m tasks.sample_graph"}
    sampler = cpu.ProcessCpu(read=lambda: next(readings), describe=lambda key: names[key[0]])
    sampler.sample()
    sampler.sample()
    assert sampler.by_kind() == [
        {"kind": "PostgreSQL", "processes": 1, "cpu_s": 3.0},          # 53 - 50, not 53
        {"kind": "stage sample_graph", "processes": 2, "cpu_s": 2.0},  # 1.5 + 0.5: both lives of pid 3
    ]  # most first; pid 2 spent nothing after the first sample: not listed


def test_a_busy_child_is_found_with_the_cpu_it_spent(cpu):
    sampler = cpu.ProcessCpu(every=0.05)
    sampler.start()
    child = subprocess.Popen([sys.executable, "-c", "import time\nend = time.process_time() + 0.8\n"
                              "while time.process_time() < end: pass\ntime.sleep(0.3)"])
    child.wait(timeout=60)
    time.sleep(0.1)
    sampler.stop()
    spent = [sampler.last[key] - sampler.first.get(key, 0.0) for key in sampler.last if key[0] == child.pid]
    assert len(spent) == 1 and 0.7 <= spent[0] <= 1.2, spent
    assert any(row["kind"] == "other Python" and row["cpu_s"] >= 0.7 for row in sampler.by_kind())


def test_the_report_names_kinds_the_sampler_gives(cpu):
    """tasks/report/benchmarks.py's floor finds its kinds by the sampler's labels: a
    renamed label would leave the floor silently unspared."""
    from tasks.common.paths import STAGES
    from tasks.report.benchmarks import SPARABLE

    labels = {label for _, label in cpu.KINDS}
    assert set(SPARABLE) <= labels
    assert all(cpu.kind(f"python -m tasks.{stage}").removeprefix("stage ") == stage for stage in STAGES)
