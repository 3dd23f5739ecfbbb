"""PNG figures for MLflow (DVC renders its own plots from the CSV files)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bar(labels: Sequence[str], values: Sequence[float], title: str, out: Path, horizontal: bool = True) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, max(3, 0.22 * len(labels))) if horizontal else (10, 4))
    if horizontal:
        ax.barh(list(labels)[::-1], list(values)[::-1])
    else:
        ax.bar(list(labels), list(values))
    ax.set_title(title)
    fig.tight_layout(); fig.savefig(out, dpi=100); plt.close(fig)
    return out


def line(x: Sequence[float], ys: dict[str, Sequence[float]], title: str, xlabel: str, out: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, y in ys.items():
        ax.plot(list(x), list(y), label=name)
    ax.set_title(title); ax.set_xlabel(xlabel)
    if len(ys) > 1:
        ax.legend()
    fig.tight_layout(); fig.savefig(out, dpi=100); plt.close(fig)
    return out


def word_cloud(frequencies: dict[str, int], out: Path) -> Path:
    from wordcloud import WordCloud

    WordCloud(width=900, height=450, background_color="white", random_state=0) \
        .generate_from_frequencies(frequencies).to_file(str(out))
    return out
