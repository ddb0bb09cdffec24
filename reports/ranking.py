"""A setting's headline: methods ranked by the yardstick's composite gap in rank groups that a paired test over
seeds separates, the noise floor and the original ranked with them, the Pareto-optimal methods (gap vs seconds)
marked, and the retrained reference row apart."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

from unlearnbench.metrics import VALUES, MetricValue
from unlearnbench.reports.aggregate import MethodResult, SettingResult, Stat
from unlearnbench.reports.provenance import REUSED_MARK, rests_on_reused
from unlearnbench.reports.statistics import PAIRED_TEST, rank_groups, significant, versus

PARETO_NOTE = "Pareto: no other method is both faster and closer to the retrained model"
HEADLINE_TAIL = ("time_s", "speedup_vs_retrain")  # after the yardstick's values in every headline
ROLE_MARKS = {"original": " (original)", "floor": " (noise floor)"}  # for rows whose label does not say it


@dataclass(frozen=True)
class Ranked:
    """One ranked row: its rank (shared with the rows no test separates from it), result and Pareto mark."""

    rank: int
    result: MethodResult
    pareto: bool
    tied: bool = False

    @property
    def rank_text(self) -> str:
        """'3', or '3=' when another row shares the rank."""
        return f"{self.rank}=" if self.tied else str(self.rank)


@dataclass(frozen=True)
class Ranking:
    """A setting's rows, best first, with the rows that are not ranked and what the tests say."""

    setting: SettingResult
    ranked: list[Ranked]
    references: list[MethodResult]  # the retrained row every value is compared with
    unscored: list[MethodResult]  # rows without a finite gap (no retrained row, a value missing, every seed failed)
    apart: list[MethodResult] = field(default_factory=list)  # fewer seeds than the setting's most: not ranked
    like_retraining: list[str] = field(default_factory=list)  # not significantly above the noise floor
    like_original: list[str] = field(default_factory=list)  # not significantly below the original
    closer_than_floor: list[str] = field(default_factory=list)  # significantly below the noise floor
    tested: bool = True  # False with one seed: ranks follow the mean alone

    @property
    def floor(self) -> Optional[MethodResult]:
        """The independently retrained row (the noise floor), when one was run."""
        return next((r.result for r in self.ranked if r.result.role == "floor"), None)

    @property
    def original(self) -> Optional[MethodResult]:
        """The untouched original's row, when one was run."""
        return next((r.result for r in self.ranked if r.result.role == "original"), None)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both time and gap (lower is better), by time."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    front, best_gap = [], math.inf
    for i in order:
        if points[i][1] < best_gap:
            front.append(i)
            best_gap = points[i][1]
    return front


def gap_of(m: MethodResult, setting: SettingResult) -> float:
    """The row's mean composite gap under the setting's yardstick (nan when it has none)."""
    stat = m.metrics.get(setting.gap.composite)
    return stat.mean if stat is not None else math.nan


def rank_setting(setting: SettingResult) -> Ranking:
    """Rows ranked by rank group of the composite gap (then mean, then seconds). Complete rows with the setting's
    full seed count are tested pairwise; rows with a failed seed rank after all of them; rows with fewer seeds are
    listed apart."""
    name = setting.gap.composite
    candidates = [m for m in setting.methods if not m.is_reference]
    most = max((len(m.attempted) for m in candidates), default=0)
    scored = [m for m in candidates if math.isfinite(gap_of(m, setting))]
    unscored = [m for m in candidates if not math.isfinite(gap_of(m, setting))]
    apart = [m for m in scored if len(m.attempted) < most]
    full = [m for m in scored if len(m.attempted) == most and m.complete]
    partial = sorted((m for m in scored if len(m.attempted) == most and not m.complete),
                     key=lambda m: (-len(m.seeds), gap_of(m, setting)))
    tested = most >= 2
    means = [gap_of(m, setting) for m in full]
    groups = rank_groups([m.per_seed.get(name, {}) for m in full], means) if tested else \
        [1 + sorted(means).index(g) for g in means]
    order = sorted(range(len(full)), key=lambda i: (groups[i], means[i], full[i].time.mean))
    counts = {g: groups.count(g) for g in groups}
    ranked = [(groups[i], full[i], counts[groups[i]] > 1 and tested) for i in order]
    ranked += [(len(full) + k + 1, m, False) for k, m in enumerate(partial)]
    timed = [(m.time.mean, gap_of(m, setting)) for _, m, _ in ranked]
    front = {i for i in pareto_front(timed) if ranked[i][1].role == "method"}
    result = Ranking(setting, [Ranked(rank, m, i in front, tied) for i, (rank, m, tied) in enumerate(ranked)],
                     [m for m in setting.methods if m.is_reference], unscored, apart, tested=tested)
    return _with_verdicts(result, full, name) if tested else result


def _with_verdicts(ranking: Ranking, full: list[MethodResult], name: str) -> Ranking:
    """The methods indistinguishable from retraining (the floor) and from doing nothing (the original)."""
    methods = [m for m in full if m.role == "method"]
    series = [m.per_seed.get(name, {}) for m in methods]
    floor = next((m for m in full if m.role == "floor"), None)
    original = next((m for m in full if m.role == "original"), None)
    like_retraining, like_original, closer = [], [], []
    if floor is not None:
        for m, p in zip(methods, versus(series, floor.per_seed.get(name))):
            below = m.metrics[name].mean < floor.metrics[name].mean
            if not (significant(p) and not below):
                (closer if significant(p) else like_retraining).append(m.label)
    if original is not None:
        for m, p in zip(methods, versus(series, original.per_seed.get(name))):
            if not (significant(p) and m.metrics[name].mean < original.metrics[name].mean):
                like_original.append(m.label)
    return dataclasses.replace(ranking, like_retraining=like_retraining, like_original=like_original,
                               closer_than_floor=closer)


def verdict_lines(ranking: Ranking) -> list[str]:
    """The headline's plain-language reading of the tests, one sentence each."""
    if not ranking.ranked:
        return []
    if not ranking.tested:
        return ["One seed: ranks follow the mean alone, untested; run more seeds (--seed) for rank groups."]
    lines = [f"Rank groups: {PAIRED_TEST} on the per-seed {ranking.setting.gap.title} (alpha 0.05); rows that no "
             "test separates share a rank (2=)."]
    if ranking.floor is None:
        lines.append("No noise floor: run retrain_independent beside the methods to see how far retraining itself "
                     "lands.")
    else:
        lines.append("Indistinguishable from retraining (not significantly above the noise floor): "
                     + (", ".join(ranking.like_retraining) or "none") + ".")
        if ranking.closer_than_floor:
            lines.append("Significantly closer to the reference than an independent retrain: "
                         + ", ".join(ranking.closer_than_floor) + ".")
    if ranking.original is not None:
        lines.append("Indistinguishable from doing nothing (not significantly below the original): "
                     + (", ".join(ranking.like_original) or "none") + ".")
    if ranking.apart:
        lines.append("Listed apart, fewer seeds than the others: " + ", ".join(
            f"{m.label} ({len(m.attempted)})" for m in ranking.apart) + ".")
    return lines


def headline_values(setting: SettingResult) -> list[MetricValue]:
    """The values every headline shows: the setting's yardstick (composite, then parts), seconds and speedup."""
    return [VALUES.get(n) for n in (*setting.gap.values, *HEADLINE_TAIL)]


def row_label(m: MethodResult) -> str:
    """The row's name, marked when it is the original or the noise floor."""
    mark = ROLE_MARKS.get(m.role, "")
    return m.label if m.label == m.role else m.label + mark


def reused(m: MethodResult, name: str) -> bool:
    """True when the shown value rests on seconds measured in an earlier run."""
    return rests_on_reused(name, m.time_reused, m.speedup_reused)


def interval_text(stat: Stat, value: MetricValue) -> str:
    """' ± h', or ' [lo, hi]' where a bound clipped the interval; '' without one."""
    if stat.n < 2 or not math.isfinite(stat.lo) or value.unit == "speedup":
        return ""
    if stat.clipped:
        return f" [{value.format(stat.lo)}, {value.format(stat.hi)}]"
    return f" ± {value.format(stat.half_width)}"


def stat_text(stat: Stat | None, value: MetricValue, mark: str = "") -> str:
    """Mean (with its 95 % interval over seeds) in the value's format, with `mark` after a reused mean."""
    if stat is None or not math.isfinite(stat.mean):
        return "-"
    return value.format(stat.mean) + mark + interval_text(stat, value)


def value_text(m: MethodResult, value: MetricValue, mark: str = REUSED_MARK) -> str:
    """A method's value as the headline shows it."""
    return stat_text(m.metrics.get(value.name), value, mark if reused(m, value.name) else "")


def not_applicable_note(setting: SettingResult) -> str:
    """'n/a (random scenario): unsir' for the stored methods this setting's scenario does not suit, else ''."""
    if not setting.not_applicable:
        return ""
    return f"n/a ({setting.scenario} scenario, not run): {', '.join(setting.not_applicable)}"
