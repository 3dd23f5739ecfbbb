"""Markdown pieces for the generated tables, and the markers they live between.

A generated block in a page looks like::

    <!-- report:tags -->
    ...rendered table...
    <!-- /report:tags -->

``replace_blocks`` rewrites what is between each pair; everything else in the page is
left as written by hand.
"""
from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from tasks.common.stats import format_mean_std, mean_std

# The machine every committed figure is meant to come from; a table whose source file
# names another one is marked, since timings and even trained results differ across machines.
REFERENCE_MACHINE = "vm x86_64, 2 cores"
BLOCK = re.compile(r"(<!-- report:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /report:(?P=name) -->)", re.S)


class ReportError(ValueError):
    """A page or a source file is not what the report expects; the message names it."""


def this_machine() -> str:
    """How benchmark result files name the machine they ran on."""
    return f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores"


def short_commit(checkout: Path) -> str:
    """The short hash of ``checkout``'s HEAD, as benchmark result files record it ("" outside git)."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True,
                          text=True).stdout.strip()


def host_cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU as ``cpuinfo`` names it, with its family and model and whether it has
    AVX-512: :func:`this_machine` names the VM, and the VM's host has changed between
    days (its kernels then round otherwise, docs/determinism.md); "unknown" off Linux."""
    try:
        first = cpuinfo.read_text(encoding="utf-8").split("\n\n")[0]
    except OSError:
        return "unknown"
    info = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in first.splitlines()) if v}
    avx512 = "avx512f" in info.get("flags", "").split()
    return (f"{info.get('model name', '?')}, family {info.get('cpu family', '?')} model {info.get('model', '?')}, "
            f"{'AVX-512' if avx512 else 'no AVX-512'}")


def load(root: Path, rel: str) -> Any:
    path = root / rel
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{rel}: missing (run the stage or benchmark that writes it)") from None
    except json.JSONDecodeError as err:
        raise ReportError(f"{rel}:{err.lineno}: not JSON ({err.msg})") from None


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class Source:
    """Where a table's figures come from: shown under the table."""
    files: tuple[str, ...]
    command: str | None = None
    machine: str | None = None
    date: str | None = None

    def caption(self) -> str:
        files = ", ".join(f"`{f}`" for f in self.files)
        parts = [f"Source: {files}"]
        if self.command:
            parts.append(f"command `{self.command}`")
        if self.machine:
            other = self.machine != REFERENCE_MACHINE
            parts.append(f"machine {self.machine}" +
                         (f" (**another machine** than the reference, {REFERENCE_MACHINE})" if other else ""))
        if self.date:
            parts.append(self.date)
        return "; ".join(parts) + "."


def block(body: str, source: Source | None) -> str:
    return body + ("\n\n_" + source.caption() + "_" if source else "") + "\n"


def replace_blocks(text: str, blocks: dict[str, str], page: str) -> tuple[str, list[str]]:
    """``text`` with each marked block rendered anew, and the names of the blocks it has;
    a marker naming an unknown table is an error naming the page."""
    names: list[str] = []

    def render(match: re.Match) -> str:
        name = match["name"]
        if name not in blocks:
            raise ReportError(f"{page}: unknown table <!-- report:{name} --> (known: {', '.join(sorted(blocks))})")
        names.append(name)
        return f"{match.group(1)}{blocks[name]}{match.group(4)}"

    return BLOCK.sub(render, text), names


def pct(x: float, digits: int = 2) -> str:
    return f"{x * 100:.{digits}f}"


def each_round(values, digits: int = 1) -> str:
    """A benchmark's figure per round (or repeat), in order: ``48.0 / 45.8 / 45.8``."""
    return " / ".join(f"{v:.{digits}f}" for v in values)


def seconds(x: float) -> str:
    return f"{x:.1f} s"


def seed_stat(per_seed: dict, key: str, scale: float = 100, digits: int = 2) -> str:
    """mean ± sample std over the seeds; one seed has no spread, so its value stands alone."""
    values = [run[key] for run in per_seed.values()]
    if len(values) == 1:
        return f"{values[0] * scale:.{digits}f}"
    return format_mean_std(*mean_std(values), digits=digits, scale=scale)


def paired_by_seed(a: dict, b: dict, keys: Sequence[str] = ("dev_f1", "test_f1")) -> dict:
    """``{seed: {key: a's figure minus b's}}`` over the seeds both ``a`` and ``b`` have
    (``{seed: {key: figure}}``, seeds as ints or their strings), in seed order: variants
    run from one seed share its initialisation and batch order, so seeds are the pairs."""
    return {s: {k: a[s][k] - b[s][k] for k in keys} for s in sorted((s for s in a if s in b), key=int)}
