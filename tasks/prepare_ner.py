"""Stage prepare_ner: CoNLL files -> parsed, indexed arrays in data/prepared/ner."""
from __future__ import annotations

from tasks.common import paths
from tasks.common.stage import StageResult, run_stage
from tasks.ner.preparation import prepare


def main() -> None:
    run_stage("prepare_ner", lambda params, mlflow: StageResult(
        metrics={"data": prepare(params.ner, paths.NER_PREPARED)},
        artifacts=[(paths.NER_PREPARED / "stats.json", None)]))


if __name__ == "__main__":
    main()
