"""Stage embed_text: text features of every article, and the fitted encoder for new texts."""
from __future__ import annotations

from tasks.common.stage import StageResult, run_stage
from tasks.tags.text_encoders import embed


def work(params, mlflow) -> StageResult:
    emb = embed(params.tags)
    return StageResult(metrics={"articles": emb.shape[0], "dimension": emb.shape[1]})


def main() -> None:
    run_stage("embed_text", work)


if __name__ == "__main__":
    main()
