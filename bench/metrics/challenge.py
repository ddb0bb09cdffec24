"""Forgetting quality F of the NeurIPS 2023 unlearning challenge: per-example epsilon between a population of
unlearned models and a population of retrained models, bucketed into a score.

Definition: Triantafillou et al., "Are we making progress in unlearning? Findings from the first NeurIPS unlearning
competition" (2024); grader google-deepmind/unlearning_evaluation@ffae0ff `metric.py` (`compute_logit_scaled_confidence`,
`_get_double_threshold_rates`, `_get_single_threshold_rates`, `_get_epsilons`, `compute_forget_score_from_confs`) and
`main.py` (final score). Written from those rules on the CPU: the grader tiles [models x thresholds] tensors on a
GPU; here each example's two populations are sorted once and every threshold's counts are binary searches, which
gives the same rates (counts / N in float32, as the grader's float32 means) and so the same epsilons.

Rules that change numbers, all kept: the statistic's max-subtraction and exp run in the logits' float32 before the
float64 normalisation; the single-threshold grid is float32 (torch's default dtype) compared with float64
confidences; the positive side of an example is the population with the larger median, a tie making the unlearned
side positive; the range rule (smaller / larger range < 0.01 gives the cap) does not fire when both ranges are 0
(0 / 0 is nan); a threshold with FPR = FNR = 0 and TPR = TNR = 1 gives infinity (capped), one with FPR or FNR = 0
is discarded, FPR = FNR = 1 gives nan and is discarded; epsilon = max(log(1 - delta - FPR) - log(FNR),
log(1 - delta - FNR) - log(FPR)) clipped at 0, in float32 as the grader's numpy on float32 rates; the example's
epsilon is the largest over thresholds, clipped to [0, 50].
Where no threshold survives, the grader stops on an assertion; here the example's epsilon is NaN, it scores no
points in F (as an example beyond the buckets), and `undetermined` counts such examples.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

DELTA = 1e-5
EPSILON_CAP = 50.0
THRESHOLDS_PER_UNIT = 100
BUFFER = 2.0  # the double-threshold rule's search margin around the peakier population
BUCKET = 0.5  # epsilon bucket width of the score


def logit_scaled_confidence(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """log p(y) - log(1 - p(y)) per row, as the grader computes it (float32 shift and exp, float64 after)."""
    shifted = np.asarray(logits, dtype=np.float32)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    probs = np.exp(shifted).astype(np.float64)
    probs /= probs.sum(axis=1, keepdims=True)
    rows = np.arange(len(probs))
    correct = probs[rows, targets].copy()
    probs[rows, targets] = 0
    return np.log(correct + 1e-45) - np.log(probs.sum(axis=1) + 1e-45)


def _rates(tp: np.ndarray, fp: np.ndarray, n_pos: int, n_neg: int) -> tuple[np.ndarray, ...]:
    """(tpr, fnr, fpr, tnr) in float32 from predicted-positive counts among n_pos positive and n_neg negative
    models (equal sizes in the grader; a population with failed members is smaller)."""
    p32, n32 = np.float32(n_pos), np.float32(n_neg)
    return (tp.astype(np.float32) / p32, (n_pos - tp).astype(np.float32) / p32,
            fp.astype(np.float32) / n32, (n_neg - fp).astype(np.float32) / n32)


def _count_in(sorted_values: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """How many values lie in [left, right] per pair (0 where left > right)."""
    counts = np.searchsorted(sorted_values, right, side="right") - np.searchsorted(sorted_values, left, side="left")
    return np.maximum(counts, 0)


def _double_threshold_counts(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted-positive counts of both populations for every (left, right) interval of the grader's grid; the
    positive side is the peakier population (the smaller range)."""
    if np.ptp(pos) >= np.ptp(neg):
        pos, neg = neg, pos
    width = min(np.ptp(pos), np.ptp(neg))
    low, high = pos.min() + width - BUFFER, pos.max() + BUFFER
    rights = np.linspace(low, high, num=int(np.ceil((high - low) * THRESHOLDS_PER_UNIT)))
    per_right = int(np.ceil(2 * BUFFER * THRESHOLDS_PER_UNIT))
    # One row of left thresholds per right one (numpy's array endpoints give each row's own linspace, bit for bit).
    lefts = np.linspace(rights - width - BUFFER, rights - width + BUFFER, num=per_right, axis=1).reshape(-1)
    rights = np.repeat(rights, per_right)
    return _count_in(pos, lefts, rights), _count_in(neg, lefts, rights)


def _single_threshold_counts(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts at or above every threshold of the grader's float32 grid over both populations' span."""
    both = np.concatenate([pos, neg])
    low, high = both.min(), both.max()
    steps = int(math.ceil((high - low) * THRESHOLDS_PER_UNIT))
    grid = torch.linspace(float(low), float(high), steps, dtype=torch.float32).numpy().astype(np.float64)
    at_or_above = lambda values: len(values) - np.searchsorted(values, grid, side="left")  # noqa: E731
    return at_or_above(pos), at_or_above(neg)


def example_epsilon(pos: np.ndarray, neg: np.ndarray, delta: float = DELTA) -> float:
    """The grader's epsilon for one example: `pos` and `neg` are its confidences under N models of each side, the
    positive side being the one with the larger median (NaN where no threshold survives)."""
    pos, neg = np.sort(pos), np.sort(neg)
    ranges = sorted((np.ptp(pos), np.ptp(neg)))
    with np.errstate(invalid="ignore", divide="ignore"):
        if ranges[0] / ranges[1] < 0.01:  # one side is a spike: the cap (0 / 0 is nan: the rule does not fire)
            return EPSILON_CAP
    swapped = np.ptp(pos) >= np.ptp(neg)  # the double-threshold rule makes the peakier side positive
    tp_d, fp_d = _double_threshold_counts(pos, neg)
    tp_s, fp_s = _single_threshold_counts(pos, neg)
    n_d = (len(neg), len(pos)) if swapped else (len(pos), len(neg))
    double = _rates(tp_d, fp_d, *n_d)
    single = _rates(tp_s, fp_s, len(pos), len(neg))
    tpr, fnr, fpr, tnr = (np.concatenate([d, s]) for d, s in zip(double, single))
    separated = (fpr + fnr == 0) & (tpr + tnr == 2)
    if separated.any():
        return EPSILON_CAP  # infinity, capped
    usable = fpr * fnr != 0
    with np.errstate(invalid="ignore", divide="ignore"):
        one_minus = np.float32(1 - delta)
        eps = np.fmax(np.log(one_minus - fpr[usable]) - np.log(fnr[usable]),
                      np.log(one_minus - fnr[usable]) - np.log(fpr[usable]))
    eps = eps[~np.isnan(eps)]  # FPR = FNR = 1: both terms nan
    if not len(eps):
        return float("nan")
    return float(np.clip(np.clip(eps, 0, None).max(), 0, EPSILON_CAP))


def oriented(unlearned: np.ndarray, retrained: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per example, its (positive, negative) confidences: the side with the larger median is positive (a tie: the
    unlearned side). Inputs are [models, examples]; the two sides may hold different numbers of models."""
    retrain_positive = np.median(retrained, axis=0) > np.median(unlearned, axis=0)
    return [(retrained[:, i], unlearned[:, i]) if retrain_positive[i] else (unlearned[:, i], retrained[:, i])
            for i in range(unlearned.shape[1])]


def epsilons(unlearned: np.ndarray, retrained: np.ndarray, delta: float = DELTA) -> np.ndarray:
    """Per forget example, the epsilon between [N, n] unlearned and [M, n] retrained confidences."""
    sides = oriented(np.asarray(unlearned, dtype=np.float64), np.asarray(retrained, dtype=np.float64))
    return np.array([example_epsilon(pos, neg, delta) for pos, neg in sides])


def bucket_points(num_models: int) -> list[tuple[float, float]]:
    """(bucket start, points) of the score: buckets of width 0.5 from 0 up to ceil(log(N - 1)), worth 1, 1/2, ..."""
    top = math.ceil(math.log(num_models - 1))
    out, start, points = [], 0.0, 1.0
    while start + BUCKET <= top:
        out.append((start, points))
        start, points = start + BUCKET, points / 2
    return out


def example_points(eps: np.ndarray, num_models: int) -> np.ndarray:
    """Each example's points: those of its epsilon's bucket (0 beyond the last bucket, or NaN)."""
    buckets = bucket_points(num_models)
    return np.array([next((points for start, points in buckets if e < start + BUCKET), 0.0) for e in eps])


def forget_quality(eps: np.ndarray, num_models: int) -> float:
    """F: the mean over examples of their points."""
    return float(example_points(eps, num_models).mean())


def bootstrap_interval(points: np.ndarray, rounds: int = 2000, seed: int = 0) -> tuple[float, float]:
    """The 95 % percentile interval of the mean of `points` over forget examples resampled with replacement."""
    rng = np.random.default_rng(seed)
    means = points[rng.integers(0, len(points), (rounds, len(points)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


@dataclass(frozen=True)
class ChallengeScore:
    """F with its bootstrap interval, the utility-adjusted final score (and interval), and how many examples had
    no surviving threshold."""

    forget_quality: float
    final_score: float
    undetermined: int
    forget_quality_interval: tuple[float, float] = (float("nan"), float("nan"))
    final_score_interval: tuple[float, float] = (float("nan"), float("nan"))
    epsilons: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)  # per example
    points: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)  # F's share per example
    utility: float = 1.0  # (RA_U / RA_R) x (TA_U / TA_R)

    def summary(self) -> dict[str, object]:
        """The scalar fields, JSON-ready (the per-example epsilons are stored apart)."""
        return {"forget_quality": self.forget_quality, "final_score": self.final_score,
                "undetermined": self.undetermined, "forget_quality_interval": list(self.forget_quality_interval),
                "final_score_interval": list(self.final_score_interval), "utility": self.utility}


def challenge_score(unlearned: np.ndarray, retrained: np.ndarray, retain_acc: tuple[float, float],
                    test_acc: tuple[float, float]) -> ChallengeScore:
    """F and F x (RA_U / RA_R) x (TA_U / TA_R) (accuracies averaged over each population: (unlearned, retrained)),
    with 95 % bootstrap intervals over forget examples (the utility factor held fixed)."""
    eps = epsilons(unlearned, retrained)
    points = example_points(eps, np.asarray(unlearned).shape[0])
    utility = (retain_acc[0] / retain_acc[1]) * (test_acc[0] / test_acc[1])
    lo, hi = bootstrap_interval(points)
    f = float(points.mean())
    return ChallengeScore(f, f * utility, int(np.isnan(eps).sum()), (lo, hi), (lo * utility, hi * utility), eps,
                          points, utility)
