"""PNG images of the DVC plots, for MLflow.

DVC renders its plots from the CSV files and the definitions in ``dvc.yaml``;
``dvc_plots`` draws the same plots from the same definitions as PNG files: stages write
CSV files, never images. :func:`pyplot` is the project's one matplotlib set-up (the
report's figure, tasks/report/figures.py, uses it too).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (no display on a server or in CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bar(labels: Sequence[str], values: Sequence[float], title: str, out: Path) -> Path:
    """Horizontal bars, the first label on top (DVC's bar_horizontal templates)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, max(3, 0.22 * len(labels))))
    ax.barh(list(labels)[::-1], list(values)[::-1])
    ax.set_title(title)
    fig.tight_layout(); fig.savefig(out, dpi=100); plt.close(fig)
    return out


def line(x: Sequence[float], y: Sequence[float], title: str, xlabel: str, out: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(list(x), list(y))
    ax.set_title(title); ax.set_xlabel(xlabel)
    fig.tight_layout(); fig.savefig(out, dpi=100); plt.close(fig)
    return out


def dvc_plots(dvc_yaml: Path, stages: Sequence[str], out_dir: Path) -> list[Path]:
    """One PNG per plot that ``dvc.yaml`` declares for ``stages``, with its x, y, title
    and template (bar templates as horizontal bars, everything else as a line), so the
    pictures in MLflow are the ones `dvc plots show` draws. Missing CSV files are skipped."""
    import pandas as pd
    import yaml

    root = dvc_yaml.parent
    spec = yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))["stages"]
    written = []
    for stage in stages:
        for entry in spec.get(stage, {}).get("plots", []):
            (csv, props), = entry.items() if isinstance(entry, dict) else ((entry, {}),)
            props = props or {}
            if not (root / csv).is_file() or "x" not in props or "y" not in props:
                continue
            data = pd.read_csv(root / csv)
            title = props.get("title", csv)
            out = out_dir / (Path(csv).stem + ".png")
            if props.get("template", "").startswith("bar_horizontal"):
                if props.get("template", "").endswith("sorted"):
                    data = data.sort_values(props["x"], ascending=False)
                bar(data[props["y"]].astype(str), data[props["x"]], title, out)
            else:
                line(data[props["x"]], data[props["y"]], title, props["x"], out)
            written.append(out)
    return written
