"""Render every results table of README.md and docs/*.md from the files that hold the
figures, between ``<!-- report:NAME -->`` markers, and the figures of ``FIGURES``
(``make report``).

    python -m tasks.report           # rewrite the tables and figures in place
    python -m tasks.report --check   # exit 1, naming each page and table or figure, if one differs
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tasks.common.settings import PROJECT_ROOT
from tasks.report import benchmarks, ner_benchmarks, results, settings_table
from tasks.report.figures import stale_figures
from tasks.report.markdown import BLOCK, ReportError, replace_blocks

TABLES = {**results.TABLES, **benchmarks.TABLES, **ner_benchmarks.TABLES, **settings_table.TABLES}


def pages(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def render_all(root: Path) -> dict[str, str]:
    return {name: render(root) for name, render in TABLES.items()}


def report(root: Path, check: bool) -> list[str]:
    """Pages (and their tables) that differ from what the files give; rewrites them unless ``check``."""
    blocks = render_all(root)
    stale, used = [], set()
    for page in pages(root):
        text = page.read_text(encoding="utf-8")
        new, names = replace_blocks(text, blocks, page.relative_to(root).as_posix())
        used.update(names)
        if new != text:
            old_blocks = dict(zip(names, _bodies(text)))
            changed = [n for n, body in zip(names, _bodies(new)) if old_blocks.get(n) != body]
            stale.append(f"{page.relative_to(root)}: {', '.join(changed)}")
            if not check:
                page.write_text(new, encoding="utf-8")
    unused = sorted(set(blocks) - used)
    if unused:
        raise ReportError(f"tables no page shows (add <!-- report:NAME --> markers): {', '.join(unused)}")
    return stale + stale_figures(root, check)


def _bodies(text: str) -> list[str]:
    return [m["body"] for m in BLOCK.finditer(text)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table or figure is stale")
    ap.add_argument("--root", type=Path, default=PROJECT_ROOT, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    try:
        stale = report(args.root, args.check)
    except ReportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for line in stale:
        print(("stale (hand-edited, or its source changed): " if args.check else "updated: ") + line)
    if args.check and stale:
        print("run `make report` to regenerate them from the files", file=sys.stderr)
        return 1
    print(f"{len(TABLES)} tables {'checked' if args.check else 'rendered'}; {len(stale)} page(s) "
          f"{'stale' if args.check else 'changed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
