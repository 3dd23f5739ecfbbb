"""Mean ± spread over seeds, one definition for every table: the sample standard deviation
(n - 1 in the denominator), since the seeds are a sample of the runs one could have made."""
from __future__ import annotations

import math
import statistics
from typing import Iterable


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """(mean, sample std) of ``values``; the std of a single value is 0.0."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("mean_std of no values")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def format_mean_std(mean: float, std: float, digits: int = 4, scale: float = 1.0) -> str:
    """``0.2416 ± 0.0042`` (``scale=100, digits=2``: ``90.24 ± 0.31``); NaN shows as ``—``."""
    if math.isnan(mean):
        return "—"
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"
