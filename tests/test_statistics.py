"""Statistics over seeds: bounded intervals, the paired test, Holm's correction and rank groups (known answers)."""
from __future__ import annotations

import math

import pytest

from unlearnbench.reports.aggregate import mean_ci
from unlearnbench.reports.statistics import holm, paired_p, rank_groups, versus


def test_the_t_interval_has_the_t_multiplier_of_its_degrees_of_freedom():
    stat = mean_ci([1.0, 2.0, 3.0])
    assert stat.mean == 2.0 and stat.n == 3
    assert stat.hi - stat.mean == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)  # t(0.975, 2) * 1 / sqrt(3)
    assert not stat.clipped


def test_a_bounded_interval_never_leaves_its_range():
    stat = mean_ci([0.0, 0.0, 0.3], bounds=(0.0, 1.0))
    assert stat.lo == 0.0 and stat.hi == pytest.approx(0.1 + 4.302653 * 0.173205 / math.sqrt(3), rel=1e-5)
    assert stat.clipped
    assert mean_ci([0.99, 1.0, 0.9], bounds=(0.0, 1.0)).hi == 1.0


def test_one_value_has_no_interval():
    stat = mean_ci([0.5], bounds=(0.0, 1.0))
    assert stat.mean == 0.5 and math.isnan(stat.lo) and math.isnan(stat.half_width)


def test_the_paired_test_matches_scipys_ttest_rel():
    from scipy import stats

    a, b = {0: 0.30, 1: 0.35, 2: 0.28, 3: 0.40}, {0: 0.10, 1: 0.20, 2: 0.25, 3: 0.12}
    expected = stats.ttest_rel([a[s] for s in range(4)], [b[s] for s in range(4)]).pvalue
    assert paired_p(a, b) == pytest.approx(expected)


def test_the_paired_test_pairs_by_seed_not_by_position():
    a = {0: 1.0, 1: 2.0, 2: 3.0}
    assert paired_p(a, {2: 3.0, 0: 1.0, 1: 2.0}) == 1.0  # the same values per seed: no difference


def test_a_constant_shift_is_certain_and_one_seed_is_untestable():
    assert paired_p({0: 0.5, 1: 0.6}, {0: 0.4, 1: 0.5}) == 0.0
    assert math.isnan(paired_p({0: 0.5}, {0: 0.4}))


def test_holm_multiplies_the_smallest_by_the_family_size_and_keeps_the_order():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.2, math.nan]) == pytest.approx([0.2, math.nan], nan_ok=True)


def test_rows_no_test_separates_share_a_rank_and_a_clear_winner_ranks_alone():
    best = {0: 0.01, 1: 0.012, 2: 0.011, 3: 0.010}
    middle_a = {0: 0.45, 1: 0.55, 2: 0.50, 3: 0.52}
    middle_b = {0: 0.52, 1: 0.47, 2: 0.55, 3: 0.46}
    worst = {0: 0.90, 1: 0.91, 2: 0.905, 3: 0.902}
    series = [best, middle_a, middle_b, worst]
    means = [sum(s.values()) / 4 for s in series]
    assert rank_groups(series, means) == [1, 2, 2, 4]  # the middle rows differ by less than their noise


def test_versus_is_one_holm_family_against_the_anchor():
    anchor = {0: 0.5, 1: 0.5, 2: 0.5}
    same, shifted = {0: 0.5, 1: 0.5, 2: 0.5}, {0: 0.1, 1: 0.1, 2: 0.1}
    assert versus([same, shifted], anchor) == [1.0, 0.0]
    assert all(math.isnan(p) for p in versus([same], None))
