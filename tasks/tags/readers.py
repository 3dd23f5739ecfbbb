"""Readers for the tag-classification data: citeulike-t (native .dat files) and the
Medium CSV format. Both return the same normalised tables; every defect is reported
as ``file:line`` or by column name."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.common.files import DataError


@dataclass
class ArticleTables:
    articles: pd.DataFrame      # article (0..n-1), key, title, text, tags (list[str])
    memberships: pd.DataFrame   # article, list
    embeddings: np.ndarray | None = None  # precomputed text embeddings (Medium), row = article
    counts: dict = field(default_factory=dict)


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(path, None, "file not found")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise DataError(path, line, "not valid UTF-8") from None


def _id_lists(path: Path, n_items: int | None) -> list[list[int]]:
    """Lines ``count id id ...``; checks the count and the id range."""
    out = []
    for number, line in enumerate(_lines(path), start=1):
        parts = line.split()
        if not parts:
            out.append([])
            continue
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise DataError(path, number, "expected integers: count id id ...") from None
        count, ids = values[0], values[1:]
        if count != len(ids):
            raise DataError(path, number, f"count says {count} ids but the line has {len(ids)}")
        if n_items is not None:
            bad = [i for i in ids if not 0 <= i < n_items]
            if bad:
                raise DataError(path, number, f"unknown article id {bad[0]} (articles are 0..{n_items - 1})")
        out.append(ids)
    return out


def _bag_of_words(path: Path, vocabulary: list[str]) -> list[str]:
    texts = []
    for number, line in enumerate(_lines(path), start=1):
        parts = line.split()
        words = []
        try:
            for item in parts[1:]:
                word_id, count = item.split(":")
                words += [vocabulary[int(word_id)]] * int(count)
        except (ValueError, IndexError):
            raise DataError(path, number, "expected 'n word_id:count ...' with known word ids") from None
        if not parts or int(parts[0]) != len(parts) - 1:
            raise DataError(path, number, "the first number must count the word_id:count pairs")
        texts.append(" ".join(words))
    return texts


def read_citeulike(root: Path | str) -> ArticleTables:
    root = Path(root)
    vocabulary = [w.strip() for w in _lines(root / "vocabulary.dat")]
    texts = _bag_of_words(root / "mult.dat", vocabulary)
    n = len(texts)
    libraries = _id_lists(root / "users.dat", n)
    tag_names = [t.strip() for t in _lines(root / "tags.dat")]
    tag_items = _id_lists(root / "tag-item.dat", n)
    if len(tag_names) != len(tag_items):
        raise DataError(root / "tags.dat", None, f"{len(tag_names)} tag names but tag-item.dat has {len(tag_items)} lines")
    tags: list[list[str]] = [[] for _ in range(n)]
    for name, items in zip(tag_names, tag_items):
        for i in sorted(set(items)):
            tags[i].append(name)
    members = pd.DataFrame([(a, f"user{u}") for u, lib in enumerate(libraries) for a in lib], columns=["article", "list"])
    articles = pd.DataFrame({"article": np.arange(n), "key": [str(i) for i in range(n)], "title": [""] * n,
                             "text": texts, "tags": tags})
    return _finish(articles, members)


def _csv_rows(path: Path, required: list[str]):
    if not path.is_file():
        raise DataError(path, None, "file not found")
    f = path.open(encoding="utf-8", newline="")
    reader = csv.DictReader(f)
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        f.close()
        raise DataError(path, 1, f"missing column(s) {missing}; found {reader.fieldnames}")
    try:
        for row in reader:
            yield reader.line_num, row
    except UnicodeDecodeError:
        raise DataError(path, reader.line_num + 1, "not valid UTF-8") from None
    finally:
        f.close()


def _json_list(path: Path, line: int, column: str, text: str) -> list:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(path, line, f"column {column!r} is not valid JSON: {err.msg}") from None
    if not isinstance(value, list):
        raise DataError(path, line, f"column {column!r} must be a JSON list")
    return value


MEDIUM_ARTICLES, MEDIUM_LISTS, MEDIUM_EMBEDDINGS = "medium_articles.csv", "medium_lists.csv", "medium_embeddings.csv"


def read_medium(articles_csv: Path | str, lists_csv: Path | str, embeddings_csv: Path | str | None = None) -> ArticleTables:
    articles_csv, lists_csv = Path(articles_csv), Path(lists_csv)
    rows, index = [], {}
    for line, row in _csv_rows(articles_csv, ["story", "title", "tags"]):
        url = row["story"]
        if url in index:
            raise DataError(articles_csv, line, f"duplicate article {url!r}")
        tags = [str(t) for t in _json_list(articles_csv, line, "tags", row["tags"] or "[]")]
        index[url] = len(rows)
        rows.append({"article": len(rows), "key": url, "title": row["title"], "text": row["title"], "tags": tags})
    if not rows:
        raise DataError(articles_csv, None, f"no articles in {articles_csv} (a header and no rows)")
    members = []
    for line, row in _csv_rows(lists_csv, ["article", "list"]):
        if row["article"] not in index:
            raise DataError(lists_csv, line, f"membership names unknown article {row['article']!r}")
        members.append((index[row["article"]], row["list"]))
    embeddings = None
    if embeddings_csv:
        embeddings_csv = Path(embeddings_csv)
        vectors: dict[int, list] = {}
        for line, row in _csv_rows(embeddings_csv, ["url", "embedding"]):
            if row["url"] not in index:
                raise DataError(embeddings_csv, line, f"embedding for unknown article {row['url']!r}")
            vectors[index[row["url"]]] = _json_list(embeddings_csv, line, "embedding", row["embedding"])
        dims = {len(v) for v in vectors.values()}
        if len(dims) != 1 or len(vectors) != len(rows):
            raise DataError(embeddings_csv, None, f"need one embedding of one size per article; "
                                                  f"{len(vectors)} of {len(rows)} articles, sizes {sorted(dims)}")
        embeddings = np.asarray([vectors[i] for i in range(len(rows))], np.float32)
    return _finish(pd.DataFrame(rows), pd.DataFrame(members, columns=["article", "list"]), embeddings)


def read_tables(data_format: str, folder: Path | str) -> ArticleTables:
    """The tables of ``tags.data``: citeulike's .dat files, or the Medium CSVs (with
    medium_embeddings.csv when that file is there) in ``folder``."""
    folder = Path(folder)
    if data_format == "citeulike":
        return read_citeulike(folder)
    embeddings = folder / MEDIUM_EMBEDDINGS
    return read_medium(folder / MEDIUM_ARTICLES, folder / MEDIUM_LISTS, embeddings if embeddings.is_file() else None)


def _finish(articles: pd.DataFrame, members: pd.DataFrame, embeddings: np.ndarray | None = None) -> ArticleTables:
    before = len(members)
    members = members.drop_duplicates().reset_index(drop=True)
    in_list = np.zeros(len(articles), bool)
    in_list[members["article"].to_numpy()] = True
    tag_counts = articles["tags"].map(len)
    counts = {"articles": len(articles), "lists": int(members["list"].nunique()), "memberships": len(members),
              "duplicate_memberships_dropped": before - len(members),
              "articles_without_lists": int((~in_list).sum()), "articles_without_tags": int((tag_counts == 0).sum()),
              "distinct_tags": int(articles["tags"].explode().nunique()),
              "mean_tags_per_tagged_article": float(tag_counts[tag_counts > 0].mean()) if (tag_counts > 0).any() else 0.0}
    return ArticleTables(articles, members, embeddings, counts)
