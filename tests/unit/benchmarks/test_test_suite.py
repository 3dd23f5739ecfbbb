"""benchmarks/test_suite.py's timeline: the pytest plugin records each test once, in the
process that ran it (also under pytest-xdist, whose controller sees every test again), and
the per-file spans and CPU busy fractions are computed right."""
import json
import subprocess
import sys

import pytest

from tests.support import ROOT, load_benchmark


@pytest.fixture(scope="module")
def suite():
    return load_benchmark("test_suite")


@pytest.mark.parametrize("processes", [0, 2])
def test_the_plugin_records_each_test_once_where_it_ran(tmp_path, processes):
    (tmp_path / "test_a.py").write_text("def test_one():\n    pass\n\ndef test_two():\n    pass\n")
    (tmp_path / "test_b.py").write_text("import time\n\ndef test_three():\n    time.sleep(0.3)\n")
    out = tmp_path / "timeline.jsonl"
    xdist = ["-n", str(processes), "--dist", "loadfile"] if processes else ["-p", "no:xdist"]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "suite_timeline",
                           "--timeline", str(out), *xdist, str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "benchmarks")}, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["test"].split("::")[1] for r in records) == ["test_one", "test_three", "test_two"]
    processes_seen = {r["process"] for r in records}
    assert processes_seen <= ({"gw0", "gw1"} if processes else {"main"}) and processes_seen
    slow = next(r for r in records if r["test"].endswith("test_three"))
    assert slow["end"] - slow["start"] >= 0.3


def test_file_spans_and_busy_fractions(suite, tmp_path):
    timeline = tmp_path / "t.jsonl"
    rows = [("gw0", "tests/a.py::x", 100.0, 101.0), ("gw0", "tests/a.py::y", 101.0, 104.0),
            ("gw1", "tests/b.py::z", 100.5, 110.5)]
    timeline.write_text("".join(json.dumps({"process": p, "test": t, "start": s, "end": e}) + "\n"
                                for p, t, s, e in rows))
    assert suite.file_spans(timeline) == [
        {"file": "tests/b.py", "process": "gw1", "start": 0.5, "end": 10.5, "seconds": 10.0},
        {"file": "tests/a.py", "process": "gw0", "start": 0.0, "end": 4.0, "seconds": 4.0}]
    # (time, total jiffies, idle jiffies): the first minute half busy, the second all busy
    samples = [(0.0, 0, 0), (30.0, 100, 50), (60.0, 200, 100), (90.0, 300, 100)]
    assert suite.busy(samples) == (round(1 - 100 / 300, 3), [0.5, 1.0])


def test_files_run_longest_first_new_files_before_all(tmp_path, monkeypatch):
    """tests/conftest.py orders the collection by each file's time in the latest passing
    suite run that timed it (a later run of part of the suite keeps the other files')."""
    from types import SimpleNamespace

    import tests.conftest as conftest

    results = tmp_path / "test_suite.json"
    files = lambda *pairs: [{"file": f, "seconds": s} for f, s in pairs]  # noqa: E731
    results.write_text(json.dumps({
        "old": {"exit_code": 0, "files": files(("a.py", 1.0), ("b.py", 50.0))},
        "latest-passing": {"exit_code": 0, "files": files(("a.py", 90.0), ("b.py", 5.0), ("c.py", 30.0))},
        "failed-after": {"exit_code": 1, "files": files(("b.py", 999.0))},
        "serial_over_parallel": 1.9}))
    seconds = conftest.recorded_file_seconds(results)
    assert seconds == {"a.py": 90.0, "b.py": 5.0, "c.py": 30.0}
    runs = json.loads(results.read_text())
    runs["part-after"] = {"exit_code": 0, "files": files(("c.py", 40.0))}  # e.g. make test-fast's part
    results.write_text(json.dumps(runs))
    assert conftest.recorded_file_seconds(results) == {"a.py": 90.0, "b.py": 5.0, "c.py": 40.0}
    assert conftest.recorded_file_seconds(tmp_path / "none.json") == {}

    monkeypatch.setattr(conftest, "recorded_file_seconds", lambda: seconds)
    collected = ["b.py::t1", "b.py::t2", "a.py::t1", "new.py::t1", "c.py::t1", "a.py::t2"]
    items = [SimpleNamespace(nodeid=n) for n in collected]
    conftest.pytest_collection_modifyitems(None, items)
    assert [i.nodeid for i in items] == ["new.py::t1", "a.py::t1", "a.py::t2", "c.py::t1", "b.py::t1", "b.py::t2"]
