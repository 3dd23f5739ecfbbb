"""One Keras callback for both trainings (train_ner, train_sage).

It times each epoch, asks the stage to score it (``score(epoch, logs, seconds)``), reports
the result as a human line plus a typed progress event (tasks/common/progress.py), logs
the epoch's metrics to MLflow, and stops training when the stage says why it should.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import keras

from tasks.common.progress import ProgressEvent, report


@dataclass(frozen=True)
class EpochResult:
    human: str                           # the line people read in the log
    metrics: dict[str, float]            # shown in the progress event
    logged: dict[str, float] | None = None  # logged to MLflow at step = epoch (default: metrics)
    stop: str | None = None              # why training should stop after this epoch, or None


class EpochReporter(keras.callbacks.Callback):
    def __init__(self, stage: str, total: int, score: Callable[[int, dict, float], EpochResult], *,
                 run: str = "", mlflow: Any = None):
        super().__init__()
        self.stage, self.total, self.score, self.run, self.mlflow = stage, total, score, run, mlflow
        self._t0 = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        result = self.score(epoch + 1, logs or {}, time.perf_counter() - self._t0)
        report(ProgressEvent(self.stage, epoch + 1, self.total, self.run, result.metrics), result.human)
        if self.mlflow is not None:
            self.mlflow.log_metrics(result.logged if result.logged is not None else result.metrics, step=epoch + 1)
        if result.stop:
            print(result.stop, flush=True)
            self.model.stop_training = True
