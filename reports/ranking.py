"""A setting's headline: methods ranked by retrain gap, the Pareto-optimal ones (gap vs seconds) marked, and the
reference rows (original, retrained) kept apart."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from unlearnbench.metrics import VALUES, MetricValue
from unlearnbench.reports.aggregate import MethodResult, SettingResult, Stat
from unlearnbench.reports.provenance import REUSED_MARK, rests_on_reused

RANK_BY = "retrain_gap"  # the ranking value; ties are broken by seconds
PARETO_NOTE = "Pareto: no other method is both faster and closer to the retrained model"


@dataclass(frozen=True)
class Ranked:
    """One ranked method: its place, its result, and whether no other method beats it on both gap and seconds."""

    rank: int
    result: MethodResult
    pareto: bool


@dataclass(frozen=True)
class Ranking:
    """A setting's methods, best first, with the rows that are not ranked."""

    setting: SettingResult
    ranked: list[Ranked]
    references: list[MethodResult]  # original and retrained rows, in that order
    unscored: list[MethodResult]  # methods without a finite gap (no retrained row, or a metric missing)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both time and gap (lower is better), by time."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    front, best_gap = [], math.inf
    for i in order:
        if points[i][1] < best_gap:
            front.append(i)
            best_gap = points[i][1]
    return front


def _gap(m: MethodResult) -> float:
    stat = m.metrics.get(RANK_BY)
    return stat.mean if stat is not None else math.nan


def rank_setting(setting: SettingResult) -> Ranking:
    """The setting's methods ranked by mean retrain gap (then seconds); references and unscored rows apart."""
    methods = [m for m in setting.methods if not m.is_reference]
    scored = sorted((m for m in methods if math.isfinite(_gap(m))), key=lambda m: (_gap(m), m.time.mean))
    front = set(pareto_front([(m.time.mean, _gap(m)) for m in scored]))
    return Ranking(setting, [Ranked(i + 1, m, i in front) for i, m in enumerate(scored)],
                   [m for m in setting.methods if m.is_reference],
                   [m for m in methods if not math.isfinite(_gap(m))])


def headline_values(scenario: str | None = None) -> list[MetricValue]:
    """The values every headline shows: the registry's headline tier (gap, seconds, speedup)."""
    return VALUES.select(tiers=("headline",), scenario=scenario)


def reused(m: MethodResult, name: str) -> bool:
    """True when the shown value rests on seconds measured in an earlier run."""
    return rests_on_reused(name, m.time_reused, m.speedup_reused)


def stat_text(stat: Stat | None, value: MetricValue, mark: str = "") -> str:
    """Mean (± 95 % half-width over seeds) in the value's format, with `mark` after a reused mean."""
    if stat is None or not math.isfinite(stat.mean):
        return "-"
    text = value.format(stat.mean) + mark
    if stat.n > 1 and math.isfinite(stat.half_width) and value.unit != "speedup":
        text += f" ± {value.format(stat.half_width)}"
    return text


def value_text(m: MethodResult, value: MetricValue, mark: str = REUSED_MARK) -> str:
    """A method's value as the headline shows it."""
    return stat_text(m.metrics.get(value.name), value, mark if reused(m, value.name) else "")


def not_applicable_note(setting: SettingResult) -> str:
    """'n/a (random scenario): unsir' for the stored methods this setting's scenario does not suit, else ''."""
    if not setting.not_applicable:
        return ""
    return f"n/a ({setting.scenario} scenario, not run): {', '.join(setting.not_applicable)}"
