"""Which processes a run spent its CPU in, for benchmarks/test_suite.py: every process's
CPU seconds (utime + stime in /proc) sampled twice a second and summed by kind (a stage,
a flow command, a temporary Prefect server, DVC, ...). The suite is bound by CPU work on
two cores, so this says where its minutes can come from.

A process already running at the first sample counts only what it spends after it. A
process that starts and ends between two samples is missed, and each counts up to its
last sample: ``covered`` is the sampled CPU-seconds over the machine's busy CPU-seconds
(/proc/stat) of the same span.
"""
from __future__ import annotations

import os
import re
import threading
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

PROC = Path("/proc")
HZ = os.sysconf("SC_CLK_TCK")
Key = tuple[int, int]  # (pid, start time in jiffies after boot): a pid reused later is another process

# First match wins: the specific patterns before the general ones.
KINDS: list[tuple[str, str]] = [
    (r"-m tasks\.(\w+)", "stage {}"),
    (r"joblib\.externals\.loky", "evaluate_tags' fit processes (joblib)"),
    (r"prefect\.server\.api\.server:create_app", "temporary Prefect server (a flow command's own)"),
    (r"prefect server start", "Prefect server (make ui, make cluster)"),
    (r"mlflow\.server|mlflow server", "MLflow server"),
    (r"^postgres|/bin/postgres\b", "PostgreSQL"),  # not `flows.cluster restart postgres`
    (r"-m flows\.cluster\b", "cluster command (flows.cluster)"),
    (r"-m flows\.(\w+)", "flow command (flows.{})"),
    (r"prefect worker start", "Prefect worker"),
    (r"prefect\.engine|prefect\.flow_engine|prefect\.runner\._workspace_supervisor",
     "flow run started by a worker or a served deployment"),
    (r"-m dvc\b|/dvc\b", "DVC"),
    (r"exec\(eval\(sys\.stdin", "pytest worker (the tests' own code)"),
    (r"benchmarks/test_suite\.py", "benchmarks/test_suite.py (its samplers)"),
    (r"pytest", "pytest controller"),
    (r"chrom", "Chromium (browser test)"),
    (r"playwright", "Playwright driver (browser test)"),
    (r"\bsshd?\b", "SSH"),
    (r"^\S*\bgit\b", "git"),
    (r"^\[", "kernel threads"),
    (r"python", "other Python"),
]


def kind(command: str) -> str:
    """The kind of process a command line is (see ``KINDS``); "other" when none matches."""
    for pattern, label in KINDS:
        if found := re.search(pattern, command):
            return label.format(*found.groups())
    return "other"


def read_processes(proc: Path = PROC) -> dict[Key, float]:
    """{(pid, start): CPU seconds so far} of every process now; one that ends meanwhile is left out."""
    now: dict[Key, float] = {}
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        try:
            stat = (proc / entry.name / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after the command name, which may hold spaces
        now[int(entry.name), int(fields[19])] = (int(fields[11]) + int(fields[12])) / HZ
    return now


def command_line(key: Key, proc: Path = PROC) -> str:
    """The process's command line, or its name in brackets (a kernel thread has none)."""
    try:
        raw = (proc / str(key[0]) / "cmdline").read_bytes()
        return raw.replace(b"\0", b" ").decode(errors="replace").strip() or \
            f"[{(proc / str(key[0]) / 'comm').read_text(errors='replace').strip()}]"
    except OSError:
        return "[gone]"


class ProcessCpu(threading.Thread):
    """Samples every process's CPU seconds every ``every`` seconds until stopped."""

    def __init__(self, every: float = 0.5, read: Callable[[], dict[Key, float]] = read_processes,
                 describe: Callable[[Key], str] = command_line):
        super().__init__(daemon=True)
        self.every, self.read, self.describe = every, read, describe
        self.first = read()
        self.last = dict(self.first)
        self.commands = {key: describe(key) for key in self.first}
        self._stop_event = threading.Event()

    def sample(self) -> None:
        for key, cpu in self.read().items():
            if key not in self.commands:
                self.commands[key] = self.describe(key)
            self.last[key] = cpu

    def run(self) -> None:
        while not self._stop_event.wait(self.every):
            self.sample()

    def stop(self) -> list[dict]:
        self._stop_event.set()
        self.join()
        self.sample()
        return self.by_kind()

    def by_kind(self) -> list[dict]:
        """CPU seconds spent since the first sample and processes seen, per kind; most first.
        A process is counted where it spent something."""
        seconds: dict[str, float] = defaultdict(float)
        count: dict[str, int] = defaultdict(int)
        for key, cpu in self.last.items():
            spent = cpu - self.first.get(key, 0.0)
            if spent > 0:
                label = kind(self.commands[key])
                seconds[label] += spent
                count[label] += 1
        return sorted(({"kind": k, "processes": count[k], "cpu_s": round(s, 1)} for k, s in seconds.items()),
                      key=lambda row: -row["cpu_s"])
