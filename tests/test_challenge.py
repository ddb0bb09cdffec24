"""The challenge's forgetting quality: the sorted-array epsilons equal a dense transcription of the grader's rules,
and known populations give known scores."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from unlearnbench.metrics.challenge import (EPSILON_CAP, bucket_points, challenge_score, epsilons, example_epsilon,
                                            forget_quality, logit_scaled_confidence, oriented)


def _dense_rates(pos: torch.Tensor, neg: torch.Tensor, left, right) -> list[torch.Tensor]:
    """tpr, fnr, fpr, tnr as float32 means over models of [models x thresholds] decisions (the grader's way)."""
    if left is None:
        tp, fp = pos[:, None] >= right[None, :], neg[:, None] >= right[None, :]
    else:
        tp = (left[None, :] <= pos[:, None]) & (pos[:, None] <= right[None, :])
        fp = (left[None, :] <= neg[:, None]) & (neg[:, None] <= right[None, :])
    rate = lambda b: b.to(torch.float32).mean(0)  # noqa: E731
    return [rate(tp), rate(~tp), rate(fp), rate(~fp)]


def _dense_epsilon(pos: np.ndarray, neg: np.ndarray, delta: float = 1e-5) -> float:
    """One example's epsilon by the grader's rules, written out densely (no sorting, every threshold tiled)."""
    pos_range, neg_range = np.max(pos) - np.min(pos), np.max(neg) - np.min(neg)
    largest, smallest = max(pos_range, neg_range), min(pos_range, neg_range)
    with np.errstate(invalid="ignore"):
        if smallest / largest < 0.01:
            return 50.0
    peaky, wide = (neg, pos) if pos_range >= neg_range else (pos, neg)
    low, high = peaky.min() + smallest - 2.0, peaky.max() + 2.0
    rights = np.linspace(low, high, num=int(np.ceil((high - low) * 100)))
    lefts = np.concatenate([np.linspace(r - smallest - 2.0, r - smallest + 2.0, num=400) for r in rights])
    double = _dense_rates(torch.from_numpy(peaky), torch.from_numpy(wide), torch.from_numpy(lefts),
                          torch.from_numpy(np.repeat(rights, 400)))
    both = np.concatenate([pos, neg])
    grid = torch.linspace(float(both.min()), float(both.max()), int(np.ceil((both.max() - both.min()) * 100)))
    single = _dense_rates(torch.from_numpy(pos), torch.from_numpy(neg), None, grid.to(torch.float64))
    tpr, fnr, fpr, tnr = [torch.cat([d, s]).numpy() for d, s in zip(double, single)]
    eps = np.zeros(len(tpr), dtype=np.float32)
    eps = np.where((fpr + fnr == 0) & (tpr + tnr == 2), np.inf, eps)
    eps = np.where((eps == 0) & (fpr * fnr == 0), np.nan, eps)
    with np.errstate(invalid="ignore", divide="ignore"), _quiet():
        formula = np.clip(np.nanmax([np.log(1 - delta - fpr) - np.log(fnr), np.log(1 - delta - fnr) - np.log(fpr)],
                                    axis=0), 0, None)
    eps = np.where(eps == 0, formula, eps)
    kept = eps[~np.isnan(eps)]
    return float(np.clip(np.max(kept), 0, 50)) if len(kept) else float("nan")


class _quiet:
    """Silences numpy's all-nan warning of nanmax, which the grader also triggers."""

    def __enter__(self):
        import warnings
        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._catch.__exit__(*exc)


@pytest.mark.parametrize("seed", range(6))
def test_epsilons_equal_a_dense_transcription_of_the_graders_rules(seed):
    rng = np.random.default_rng(seed)
    n_models = [8, 16, 32][seed % 3]
    pos = rng.normal(rng.uniform(-1, 1), rng.uniform(0.2, 2.0), n_models)
    neg = rng.normal(rng.uniform(-1, 1), rng.uniform(0.2, 2.0), n_models)
    if np.median(neg) > np.median(pos):
        pos, neg = neg, pos
    assert example_epsilon(pos, neg) == pytest.approx(_dense_epsilon(pos, neg), abs=1e-6)


def test_populations_from_one_distribution_score_near_the_ceiling_and_disjoint_ones_zero():
    rng = np.random.default_rng(0)
    same = challenge_score(rng.normal(0, 1, (32, 60)), rng.normal(0, 1, (32, 60)), (0.9, 0.9), (0.8, 0.8))
    apart = epsilons(rng.normal(10, 1, (32, 20)), rng.normal(0, 1, (32, 20)))
    assert 0.1 < same.forget_quality < 0.4 and same.final_score == same.forget_quality
    assert (apart == EPSILON_CAP).all() and forget_quality(apart, 32) == 0.0


def test_a_spiked_population_gets_the_cap():
    assert example_epsilon(np.linspace(-1, 1, 16), np.full(16, 0.3)) == EPSILON_CAP  # range ratio 0 < 0.01


def test_two_constant_populations_skip_the_range_rule_and_leave_no_threshold_standing():
    # 0 / 0 is nan, so the range rule does not fire; every interval then holds all or none of both sides (FPR or FNR
    # at 0) and the single-threshold grid is empty: the grader would stop; here the example is NaN and counted.
    same = np.full(8, 0.3)
    assert np.isnan(example_epsilon(same, same)) and np.isnan(_dense_epsilon(same, same))
    score = challenge_score(same[:, None], same[:, None], (1, 1), (1, 1))
    assert score.undetermined == 1 and score.forget_quality == 0.0


def test_a_median_tie_makes_the_unlearned_side_positive():
    unlearned, retrained = np.array([[0.0], [1.0], [2.0]]), np.array([[-5.0], [1.0], [9.0]])
    (pos, neg), = oriented(unlearned, retrained)
    assert np.array_equal(pos, unlearned[:, 0]) and np.array_equal(neg, retrained[:, 0])


def test_buckets_follow_the_number_of_models():
    assert bucket_points(32) == [(0.0, 1.0), (0.5, 0.5), (1.0, 0.25), (1.5, 0.125), (2.0, 0.0625), (2.5, 0.03125),
                                 (3.0, 0.015625), (3.5, 0.0078125)]  # ceil(log 31) = 4
    assert forget_quality(np.array([0.2, 0.7, 3.9, 4.0]), 32) == pytest.approx((1 + 0.5 + 0.0078125 + 0) / 4)


def test_the_statistic_shifts_and_exponentiates_in_float32():
    logits = np.array([[100.0, 0.0, -3.0], [1.0, 2.0, 3.0]], dtype=np.float32)
    conf = logit_scaled_confidence(logits, np.array([1, 2]))
    probs = np.exp(logits - logits.max(1, keepdims=True)).astype(np.float64)
    probs /= probs.sum(1, keepdims=True)
    assert conf[1] == pytest.approx(np.log(probs[1, 2]) - np.log(probs[1, 0] + probs[1, 1]))
    assert conf[0] == pytest.approx(np.log(np.exp(np.float32(-100.0)) / probs[0].sum() + 1e-45) - np.log(1.0), rel=1e-6)


def test_the_bootstrap_interval_brackets_f_and_shrinks_with_more_examples():
    rng = np.random.default_rng(3)
    small = challenge_score(rng.normal(0, 1, (16, 20)), rng.normal(0.3, 1, (16, 20)), (1, 1), (1, 1))
    large = challenge_score(rng.normal(0, 1, (16, 200)), rng.normal(0.3, 1, (16, 200)), (1, 1), (1, 1))
    for score in (small, large):
        lo, hi = score.forget_quality_interval
        assert lo <= score.forget_quality <= hi
    assert np.diff(large.forget_quality_interval)[0] < np.diff(small.forget_quality_interval)[0]
