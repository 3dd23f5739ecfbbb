"""Stage train_sage: GraphSAGE trained (unsupervised) on the RWR sample, then used
inductively to embed every article of the full graph."""
from __future__ import annotations

from tasks.common import paths
from tasks.common.stage import StageResult, run_stage


def work(params, mlflow) -> StageResult:
    from tasks.tags.sage import train  # imports Keras

    train(params, mlflow)
    return StageResult(artifacts=[(paths.SAGE_ENCODER, "model"), (paths.SAGE_INFO, "model")])


def main() -> None:
    run_stage("train_sage", work)


if __name__ == "__main__":
    main()
