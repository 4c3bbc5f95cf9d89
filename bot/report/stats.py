"""The few statistics the report needs, written out so each can be checked by hand.

- The median is the middle value (the mean of the middle two for an even count).
- The 90th percentile is the nearest-rank one: the value at position ceil(0.9 n)
  of the sorted values, so it is always a time someone actually waited.
- A 95% confidence interval for a mean is mean ± t × sd / √n, with the sample
  standard deviation and Student's t for n - 1 degrees of freedom, read from the
  table below (scipy is not a dependency; the tests hold the table to it).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

#: Two-sided 95% critical values of Student's t (the 0.975 quantile) by degrees
#: of freedom. Between the rows above 30 the value is interpolated in 1/df.
T_975: dict[int, float] = {
    1: 12.7062,
    2: 4.3027,
    3: 3.1824,
    4: 2.7764,
    5: 2.5706,
    6: 2.4469,
    7: 2.3646,
    8: 2.3060,
    9: 2.2622,
    10: 2.2281,
    11: 2.2010,
    12: 2.1788,
    13: 2.1604,
    14: 2.1448,
    15: 2.1314,
    16: 2.1199,
    17: 2.1098,
    18: 2.1009,
    19: 2.0930,
    20: 2.0860,
    21: 2.0796,
    22: 2.0739,
    23: 2.0687,
    24: 2.0639,
    25: 2.0595,
    26: 2.0555,
    27: 2.0518,
    28: 2.0484,
    29: 2.0452,
    30: 2.0423,
    40: 2.0211,
    50: 2.0086,
    60: 2.0003,
    80: 1.9901,
    100: 1.9840,
    120: 1.9799,
    200: 1.9719,
    500: 1.9647,
    1000: 1.9623,
}
Z_975 = 1.9600  # the limit as df grows

T = TypeVar("T")


def t_975(df: int) -> float:
    """Student's t 0.975 quantile for `df` degrees of freedom (df >= 1)."""
    if df < 1:
        raise ValueError("a t interval needs at least 2 values")
    if df in T_975:
        return T_975[df]
    rows = sorted(T_975)
    if df > rows[-1]:
        low, high, t_low, t_high = rows[-1], math.inf, T_975[rows[-1]], Z_975
    else:
        low = max(r for r in rows if r < df)
        high = min(r for r in rows if r > df)
        t_low, t_high = T_975[low], T_975[high]
    # Linear in 1/df, as printed tables advise between their rows.
    share = (1 / low - 1 / df) / (1 / low - (0 if high == math.inf else 1 / high))
    return t_low + (t_high - t_low) * share


def median(values: Sequence[float]) -> float:
    return median_of_sorted(sorted(values), float)


def percentile_90(values: Sequence[float]) -> float:
    """The nearest-rank 90th percentile: the ceil(0.9 n)-th smallest value."""
    return percentile_90_of_sorted(sorted(values), float)


def median_of_sorted(ordered: Sequence[T], number: Callable[[T], float]) -> float:
    """The median of values already in order, only the one or two it reads made
    numbers by `number` (a quarter's waits: two of tens of thousands)."""
    if not ordered:
        raise statistics.StatisticsError("no median for empty data")
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return number(ordered[middle])
    return (number(ordered[middle - 1]) + number(ordered[middle])) / 2


def percentile_90_of_sorted(ordered: Sequence[T], number: Callable[[T], float]) -> float:
    """The nearest-rank 90th percentile of values already in order."""
    return number(ordered[math.ceil(0.9 * len(ordered)) - 1])


@dataclass(frozen=True)
class MeanInterval:
    n: int
    mean: float
    low: float
    high: float


def mean_with_interval(values: Sequence[float]) -> MeanInterval:
    """The mean and its 95% confidence interval (t-distribution). Needs n >= 2."""
    n = len(values)
    mean = math.fsum(values) / n
    # Two passes in floating point: `statistics.stdev` works in exact fractions, a
    # few milliseconds per thousand values (a quarter at scale has tens of thousands).
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_975(n - 1) * sd / math.sqrt(n)
    return MeanInterval(n=n, mean=mean, low=mean - half, high=mean + half)
