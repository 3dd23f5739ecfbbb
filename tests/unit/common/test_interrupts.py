"""A KeyboardInterrupt raised inside a finaliser (where a Ctrl-C can land while the
garbage collector runs) still stops the program once keep_interrupts() is installed."""
import subprocess
import sys

import pytest

PROGRAM = """
import sys, time, weakref
from tasks.common.interrupts import keep_interrupts
if sys.argv[1] == "kept":
    keep_interrupts()
    keep_interrupts()  # a second call installs nothing more

class Collected:
    pass

def finaliser(ref):
    raise KeyboardInterrupt  # what Python's SIGINT handler raises if the signal lands here

obj = Collected()
ref = weakref.ref(obj, finaliser)
try:
    del obj  # the finaliser runs now, inside the deallocation
    for _ in range(500):
        time.sleep(0.01)
    print("ran on")
except KeyboardInterrupt:
    print("interrupted")
try:
    raise ValueError("still reported")
except ValueError:
    pass
class Noisy:
    def __del__(self):
        raise ValueError("an ordinary unraisable error")
Noisy()
"""


@pytest.mark.parametrize("mode, said", [("kept", "interrupted"), ("plain", "ran on")])
def test_an_interrupt_raised_in_a_finaliser_stops_the_program_only_when_kept(mode, said):
    done = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [said]
    # Other unraisable errors are still reported as Python reports them.
    assert "an ordinary unraisable error" in done.stderr
    assert ("KeyboardInterrupt" in done.stderr) == (mode == "plain")
