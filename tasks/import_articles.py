"""Stage import_articles: citeulike-t or Medium CSVs -> normalised parquet tables,
with exploratory figures (tags per article, articles without lists, top tags)."""
from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.articles import ArticleTables, read_citeulike, read_medium
from tasks.io import atomic_path, run_main, write_json, write_text
from tasks.params import TagsParams, load_params
from tasks.paths import ARTICLES

OUT_DIR = ARTICLES
METRICS = Path("metrics/tags_data.json")
PLOTS = Path("plots/tags")


def read_tables(params: TagsParams) -> ArticleTables:
    d = params.data
    if d.format == "citeulike":
        return read_citeulike(d.citeulike_dir)
    return read_medium(d.medium_articles, d.medium_lists, d.medium_embeddings)


def import_articles(params: TagsParams, out_dir: Path = OUT_DIR) -> tuple[ArticleTables, list[tuple[str, int]]]:
    tables = read_tables(params)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        tables.articles.to_parquet(tmp / "articles.parquet", index=False)
        tables.memberships.to_parquet(tmp / "memberships.parquet", index=False)
        if tables.embeddings is not None:
            np.save(tmp / "precomputed_embeddings.npy", tables.embeddings)
    tag_counts = Counter(t for tags in tables.articles["tags"] for t in tags).most_common()
    per_article = np.bincount(tables.articles["tags"].map(len).to_numpy())
    write_text(PLOTS / "tags_per_article.csv",
               "tags,articles\n" + "".join(f"{k},{v}\n" for k, v in enumerate(per_article) if v))
    lists_per_article = np.bincount(tables.memberships["article"].to_numpy(), minlength=len(tables.articles))
    by_count = np.bincount(np.minimum(lists_per_article, 20))  # 0 = articles without lists; 20 = 20+
    write_text(PLOTS / "lists_per_article.csv",
               "lists,articles\n" + "".join(f"{k if k < 20 else '20+'},{v}\n" for k, v in enumerate(by_count)))
    write_text(PLOTS / "top_tags.csv", "tag,articles\n" + "".join(f"{t},{c}\n" for t, c in tag_counts[:30]))
    write_json(METRICS, tables.counts)
    print(", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in tables.counts.items()))
    return tables, tag_counts


def main() -> None:
    from tasks import figures
    from tasks.params import flatten
    from tasks.tracking import stage_run

    params = load_params().tags
    with stage_run("import_articles", "tags", flatten({"tags": {"data": params.data.model_dump()}})) as mlflow:
        tables, tag_counts = import_articles(params)
        mlflow.log_metrics({k: float(v) for k, v in tables.counts.items()})
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            per_article = np.bincount(tables.articles["tags"].map(len).to_numpy())
            cap = min(len(per_article), 31)
            figures.bar([str(k) for k in range(cap)], per_article[:cap], "articles by number of tags",
                        tmp / "tags_per_article.png", horizontal=False)
            lists = pd.read_csv(PLOTS / "lists_per_article.csv", dtype={"lists": str})
            figures.bar(lists["lists"], lists["articles"],
                        f"articles by number of lists ({tables.counts['articles_without_lists']} in none)",
                        tmp / "lists_per_article.png", horizontal=False)
            top = tag_counts[:30]
            figures.bar([t for t, _ in top], [c for _, c in top], "most frequent tags", tmp / "top_tags.png")
            figures.word_cloud(dict(tag_counts[:200]), tmp / "tag_cloud.png")
            for png in tmp.glob("*.png"):
                mlflow.log_artifact(str(png), artifact_path="figures")
        mlflow.log_artifact(str(METRICS))


if __name__ == "__main__":
    run_main(main)
