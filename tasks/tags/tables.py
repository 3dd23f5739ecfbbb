"""The normalised article tables on disk, and the data summaries import_articles plots."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.common import paths
from tasks.common.files import atomic_path, write_csv, write_json
from tasks.tags.readers import ArticleTables

PRECOMPUTED = "precomputed_embeddings.npy"


def save_tables(tables: ArticleTables, out_dir: Path) -> None:
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        tables.articles.to_parquet(tmp / "articles.parquet", index=False)
        tables.memberships.to_parquet(tmp / "memberships.parquet", index=False)
        if tables.embeddings is not None:
            np.save(tmp / PRECOMPUTED, tables.embeddings)


def load_articles(folder: Path = paths.ARTICLES, columns: list[str] | None = None) -> pd.DataFrame:
    return pd.read_parquet(folder / "articles.parquet", columns=columns)


def load_memberships(folder: Path = paths.ARTICLES) -> pd.DataFrame:
    return pd.read_parquet(folder / "memberships.parquet", columns=["article", "list"])


def write_summaries(tables: ArticleTables) -> None:
    """metrics/tags_data.json and the three data plots (CSV files; DVC draws them)."""
    tag_counts = Counter(t for tags in tables.articles["tags"] for t in tags).most_common()
    per_article = np.bincount(tables.articles["tags"].map(len).to_numpy())
    write_csv(paths.TAGS_PER_ARTICLE, [(k, int(v)) for k, v in enumerate(per_article) if v], ("tags", "articles"))
    lists_per_article = np.bincount(tables.memberships["article"].to_numpy(), minlength=len(tables.articles))
    by_count = np.bincount(np.minimum(lists_per_article, 20))  # 0 = articles without lists; 20 = 20+
    write_csv(paths.LISTS_PER_ARTICLE, [(k if k < 20 else "20+", int(v)) for k, v in enumerate(by_count)],
              ("lists", "articles"))
    write_csv(paths.TOP_TAGS, tag_counts[:30], ("tag", "articles"))
    write_json(paths.TAGS_DATA_METRICS, tables.counts)
