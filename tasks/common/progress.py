"""Typed progress events: how a training stage tells the flow that runs it where it is.

A stage prints a human line (``epoch 3/20: loss 1.2345 ...``) for people and, beside it,
one machine line: ``@progress {"stage": ..., "step": 3, "total": 20, ...}``. The flow's
runner (flows/runner.py) reads only the machine lines, through ``ProgressEvent.parse``;
no one parses the human line, so its wording can change freely.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

MARK = "@progress "


@dataclass(frozen=True)
class ProgressEvent:
    stage: str               # the DVC stage, e.g. train_sage
    step: int                # epochs done in this run
    total: int               # epochs planned (early stopping may end sooner)
    run: str = ""            # which run of the stage, e.g. "seed 43" (train_sage trains one per seed)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total) if self.total else 0.0

    def line(self) -> str:
        return MARK + json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def parse(cls, line: str) -> ProgressEvent | None:
        """The event of a machine line; None for any other line (and for a malformed one,
        which is a bug in the stage, not a reason to stop the flow)."""
        if not line.startswith(MARK):
            return None
        try:
            data = json.loads(line[len(MARK):])
            return cls(stage=str(data["stage"]), step=int(data["step"]), total=int(data["total"]),
                       run=str(data.get("run", "")), metrics={k: float(v) for k, v in data.get("metrics", {}).items()})
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def describe(self) -> str:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in self.metrics.items())
        return f"{self.stage}: {self.run + ' ' if self.run else ''}epoch {self.step}/{self.total}" + \
            (f" ({shown})" if shown else "")


def report(event: ProgressEvent, human: str) -> None:
    """Print the human line, then the event's machine line (both flushed: the stage's
    output is a pipe)."""
    print(human, flush=True)
    print(event.line(), flush=True)
