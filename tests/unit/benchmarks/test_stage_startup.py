"""benchmarks/stage_startup.py: each step's median CPU-seconds of fresh processes, what it
adds to the step before, and a failing step named."""
import os
import sys

import pytest

from tests.support import load_benchmark


@pytest.fixture
def startup():
    return load_benchmark("stage_startup")


def test_each_step_gives_its_median_and_what_it_adds(startup):
    startup.STEPS = [("bare", "pass"), ("busy", "import time\nend = time.process_time() + 0.4\n"
                                               "while time.process_time() < end: pass")]
    rows = startup.measure(3, dict(os.environ))
    assert [row["step"] for row in rows] == ["bare", "busy"] and all(len(row["cpu_s_each"]) == 3 for row in rows)
    bare, busy = rows
    assert bare["cpu_s_median"] < 0.3 and 0.4 <= busy["cpu_s_median"] < 1.0
    assert busy["adds_s"] == pytest.approx(busy["cpu_s_median"] - bare["cpu_s_median"], abs=0.002)
    assert sorted(busy["cpu_s_each"])[1] == busy["cpu_s_median"]


def test_a_failing_step_is_named(startup):
    with pytest.raises(SystemExit, match="exit 3.*sys.exit"):
        startup.cpu_seconds("import sys; sys.exit(3)", {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
