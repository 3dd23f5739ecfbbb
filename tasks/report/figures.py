"""Figures of the results pages, drawn from the same files as the tables (``make report``).

Each figure is an SVG written with text as text and no date or random ids, so the same
files give the same bytes and ``--check`` can compare them like the tables.
"""
from __future__ import annotations

from pathlib import Path

from tasks.common.stats import mean_std
from tasks.report.markdown import load
from tasks.report.ner_tables import NER_SEEDS, ner_run_files

SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "gnn-pipelines", "font.size": 9}


def ner_seeds_svg(root: Path) -> str:
    """Dev and test F1 of every NER variant run over seeds, one dot per run, the runs of
    one seed joined across variants (the comparisons are paired by seed), variants
    ordered by dev mean as in the table."""
    import io

    from tasks.common.figures import pyplot

    plt = pyplot()
    variants = load(root, NER_SEEDS)["ranked_by_dev_f1"]
    runs = {v: {r["seed"]: r for r in ner_run_files(root, v)} for v in variants}
    seeds = sorted({s for by_seed in runs.values() for s in by_seed})
    with plt.rc_context(SVG_RC):
        fig, axes = plt.subplots(1, 2, figsize=(10, 0.45 * len(variants) + 1.6), sharey=True)
        for ax, split in zip(axes, ("dev", "test")):
            for i, seed in enumerate(seeds):
                ys = [y for y, v in enumerate(variants) if seed in runs[v]]
                xs = [100 * runs[variants[y]][seed][f"{split}_f1"] for y in ys]
                ax.plot(xs, ys, marker="o", markersize=4, linewidth=0.8, alpha=0.8, color=f"C{i}", label=f"seed {seed}")
            for y, v in enumerate(variants):
                mean = mean_std(100 * r[f"{split}_f1"] for r in runs[v].values())[0]
                ax.plot([mean, mean], [y - 0.3, y + 0.3], color="black", linewidth=1.5)
            ax.set_title(f"{split} strict span F1 (black: mean over seeds)")
            ax.grid(axis="x", linewidth=0.3)
        axes[0].set_yticks(range(len(variants)), variants)
        axes[0].invert_yaxis()
        axes[0].legend(loc="lower right", fontsize=7)
        fig.tight_layout()
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
        plt.close(fig)
    return out.getvalue()


# path under the root -> what draws it
FIGURES = {"docs/images/ner_seeds.svg": ner_seeds_svg}


def stale_figures(root: Path, check: bool) -> list[str]:
    """Figures whose file differs from what the files give; rewrites them unless ``check``."""
    stale = []
    for rel, render in FIGURES.items():
        path, svg = root / rel, render(root)
        if not path.is_file() or path.read_text(encoding="utf-8") != svg:
            stale.append(rel)
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(svg, encoding="utf-8")
    return stale
