"""Statistics over seeds: bounded intervals, paired tests with a multiple-comparison correction, rank groups.

Within a seed every method shares the original, the forget set and the retrained model, so seed-level variation is
common to all of them and cancels in per-seed differences (Demšar, "Statistical Comparisons of Classifiers over
Multiple Data Sets", JMLR 2006). With 3 to 10 seeds an exact rank test cannot reach p < 0.05 (2^(1-n) at best), so
the paired test is Student's t on the per-seed differences, and the family of comparisons is corrected with Holm's
step-down method (Holm, Scand. J. Statist. 1979), which controls the family-wise error at ALPHA.
"""
from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

import numpy as np

ALPHA = 0.05
PAIRED_TEST = "paired t-test over seeds, Holm-corrected"


def paired_p(a: Mapping[int, float], b: Mapping[int, float]) -> float:
    """Two-sided p of a paired t-test on the seeds both hold as finite numbers (nan with fewer than two).

    All differences equal and non-zero: p = 0 (a constant shift); all zero: p = 1 (the same values)."""
    seeds = sorted(s for s in a if s in b and math.isfinite(a[s]) and math.isfinite(b[s]))
    if len(seeds) < 2:
        return math.nan
    diff = np.array([a[s] - b[s] for s in seeds], dtype=float)
    spread = diff.std(ddof=1)
    if spread <= 1e-15 * max(1.0, float(np.abs(diff).max())):
        return 1.0 if np.allclose(diff, 0.0, rtol=0, atol=1e-15) else 0.0
    from scipy import stats  # SciPy loads when a test is first needed, not at start-up

    t = diff.mean() / (spread / math.sqrt(len(diff)))
    return float(2 * stats.t.sf(abs(t), len(diff) - 1))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (nan stays nan and does not count towards the family's size)."""
    order = sorted((p, i) for i, p in enumerate(p_values) if math.isfinite(p))
    adjusted = [math.nan] * len(p_values)
    running, m = 0.0, len(order)
    for k, (p, i) in enumerate(order):
        running = max(running, min(1.0, (m - k) * p))
        adjusted[i] = running
    return adjusted


def significant(p_adjusted: float) -> bool:
    """True when an adjusted p-value is below ALPHA."""
    return math.isfinite(p_adjusted) and p_adjusted < ALPHA


def rank_groups(per_seed: Sequence[Mapping[int, float]], means: Sequence[float]) -> list[int]:
    """Rank of each entry (lower mean is better): 1 + the number of entries significantly better than it, every
    pair tested and the whole family Holm-corrected. Entries no test separates share a rank."""
    n = len(per_seed)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    adjusted = holm([paired_p(per_seed[i], per_seed[j]) for i, j in pairs])
    better = [0] * n
    for (i, j), p in zip(pairs, adjusted):
        if significant(p) and means[i] != means[j]:
            better[j if means[i] < means[j] else i] += 1
    return [1 + b for b in better]


def versus(per_seed: Sequence[Mapping[int, float]], anchor: Optional[Mapping[int, float]]) -> list[float]:
    """Holm-adjusted p of each entry against `anchor` (one family); nan without an anchor."""
    if anchor is None:
        return [math.nan] * len(per_seed)
    return holm([paired_p(values, anchor) for values in per_seed])


def t_interval(values: Sequence[float], bounds: Optional[tuple[float, float]], confidence: float = 0.95
               ) -> tuple[float, float, float]:
    """(mean, lo, hi) of the finite values: the t-interval, clipped to `bounds` for a bounded value (nan: one value)."""
    x = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if len(x) == 1:
        return mean, math.nan, math.nan
    from scipy import stats

    half = float(stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    lo, hi = mean - half, mean + half
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return mean, lo, hi
