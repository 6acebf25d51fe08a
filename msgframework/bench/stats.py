"""Percentiles and medians, small enough not to need numpy."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` (0..1) percentile by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[rank]


def median(values: Iterable[float | None]) -> float | None:
    """The median of the values that are not None (None if there are none)."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def thin(values: list[float], limit: int = 200_000) -> list[float]:
    """Every k-th value so that at most ``limit`` travel back to the parent.

    Why: latencies are shipped between processes through a pipe; a million
    floats would cost more than the measurement they describe.
    """
    if len(values) <= limit:
        return values
    step = len(values) / limit
    return [values[int(i * step)] for i in range(limit)]


def rate(count: int, seconds: float | None) -> float | None:
    """Messages per second, None when the interval is missing or empty."""
    if not count or not seconds or seconds <= 0:
        return None
    return count / seconds
