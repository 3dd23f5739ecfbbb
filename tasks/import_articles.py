"""Stage import_articles: citeulike-t or Medium CSVs (``tags.data``) -> normalised
parquet tables, with data summaries (metrics/tags_data.json, plots/tags)."""
from __future__ import annotations

from tasks.common import paths
from tasks.common.stage import run_stage
from tasks.tags.readers import read_tables
from tasks.tags.tables import save_tables, write_summaries


def work(params, mlflow) -> None:
    tables = read_tables(params.tags.data.format, params.tags.data.dir)
    save_tables(tables, paths.ARTICLES)
    write_summaries(tables)
    print(", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in tables.counts.items()))


def main() -> None:
    run_stage("import_articles", work)


if __name__ == "__main__":
    main()
