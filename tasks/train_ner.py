"""Stage train_ner: train the GCN tagger on data/prepared/ner, select the epoch on dev,
score dev and test (artifacts/ner, metrics/ner.json, plots/ner)."""
from __future__ import annotations

from tasks.common import paths
from tasks.common.stage import StageResult, run_stage
from tasks.ner.training import train


def work(params, mlflow) -> StageResult:
    results = train(params.ner, mlflow)
    t = results["test"]
    print(f"test: P {t['precision']:.4f} R {t['recall']:.4f} F1 {t['f1']:.4f}")
    return StageResult(artifacts=[(paths.NER_TEST_PREDICTIONS, None), (paths.NER_MODEL, "model"),
                                  (paths.NER_MODEL_INFO, "model")])


def main() -> None:
    run_stage("train_ner", work)


if __name__ == "__main__":
    main()
