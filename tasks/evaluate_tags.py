"""Stage evaluate_tags: multi-label tag classification on text, GraphSAGE and
concatenated features (metrics/tags.json), and the concat classifier for predict."""
from __future__ import annotations

from tasks.common import paths
from tasks.common.stage import StageResult, run_stage
from tasks.tags.evaluation import evaluate_and_save


def work(params, mlflow) -> StageResult:
    evaluate_and_save(params.tags)
    return StageResult(artifacts=[(paths.PER_TAG_PRECISION, None), (paths.UNTAGGED, None),
                                  (paths.CLASSIFIER_INFO, "model")])


def main() -> None:
    run_stage("evaluate_tags", work)


if __name__ == "__main__":
    main()
