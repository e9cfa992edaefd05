"""Summary statistics for benchmark samples, kept pure so the numbers can be unit-tested.

Percentiles use linear interpolation between closest ranks (numpy's default, "type 7"), the
definition most dashboards use. With the handful of samples a benchmark run yields, p95 is
close to the maximum; `Summary.n` is always published next to it so nobody reads a p95 of
four samples as if it came from four hundred.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q`-th percentile (0..100) of `values`, interpolated; None when there are none."""
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    data = sorted(float(v) for v in values)
    if not data:
        return None
    rank = (len(data) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return data[low]
    return data[low] + (data[high] - data[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """p50 / p95 / max (and mean) of one measured quantity; fields are None without samples."""

    n: int
    p50: float | None
    p95: float | None
    max: float | None
    mean: float | None
    min: float | None

    def to_dict(self, digits: int = 1) -> dict[str, Any]:
        """JSON-ready, rounded: sub-0.1 ms noise is not information."""
        return {k: (round(v, digits) if isinstance(v, float) else v) for k, v in asdict(self).items()}


EMPTY = Summary(0, None, None, None, None, None)


def summarise(values: Iterable[float | None]) -> Summary:
    """Summarise the measured values, skipping None (a stage that was not measured)."""
    data = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not data:
        return EMPTY
    return Summary(
        n=len(data),
        p50=percentile(data, 50),
        p95=percentile(data, 95),
        max=max(data),
        mean=sum(data) / len(data),
        min=min(data),
    )


def rate(count: float, seconds: float) -> float | None:
    """`count` per second, or None when no time passed (avoids a misleading infinity)."""
    return count / seconds if seconds > 0 else None


def per_minute(count: float, minutes: float) -> float | None:
    """`count` per minute of call time, or None when there was no call time."""
    return count / minutes if minutes > 0 else None
