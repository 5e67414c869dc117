"""The statistics every report shares: a mean's 95 % t-interval over replicates, and a paired difference's."""

from __future__ import annotations

import math

import numpy as np


def interval(values: list[float] | np.ndarray, bounds: tuple[float, float] = (-math.inf, math.inf)) -> dict:
    """n, mean, sample standard deviation and the 95 % t-interval of the mean (None where n < 2).

    The interval is clipped to ``bounds``, the range the values can take: from few replicates near a bound
    (an accuracy near 1) the t-interval reaches past it, where no mean can lie. ``clipped`` flags each end
    that was clipped, [low, high], so that the clipped interval is never mistaken for the t-interval."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    out = {"n": n, "mean": float(x.mean())}
    if n < 2:
        return {**out, "sd": None, "ci95": None}
    from scipy.stats import t

    sd = float(x.std(ddof=1))
    half = float(t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    lo, hi = out["mean"] - half, out["mean"] + half
    return {**out, "sd": sd, "ci95": [max(lo, bounds[0]), min(hi, bounds[1])],
            "clipped": [bool(lo < bounds[0]), bool(hi > bounds[1])]}


def paired(a: list[float] | np.ndarray, b: list[float] | np.ndarray,
           bounds: tuple[float, float] = (-math.inf, math.inf)) -> dict:
    """The interval of a - b over replicates, each replicate's a and b taken together; a and b lie in
    ``bounds``, so a - b in [low - high, high - low] ([-1, 1] for a score in [0, 1])."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    diff = a - b
    return interval(diff, (bounds[0] - bounds[1], bounds[1] - bounds[0]))
