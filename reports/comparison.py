"""Default against tuned parameters: per method, the composite gap of each setting's two rankings side by side; a
change counts as an improvement only where the paired test over seeds says so."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from unlearnbench.metrics import VALUES
from unlearnbench.reports.aggregate import Stat
from unlearnbench.reports.ranking import Ranking, stat_text
from unlearnbench.reports.statistics import PAIRED_TEST, holm, paired_p, significant


@dataclass(frozen=True)
class Side:
    """One method in one ranking: its gap over seeds and its rank (None: failed or not ranked)."""

    gap: Optional[Stat]
    rank: Optional[int]
    failed: bool = False
    per_seed: Mapping[int, float] = dataclasses.field(default_factory=dict)
    tied: bool = False  # another row shares the rank
    name: str = "retrain_gap"  # the composite the gap is

    @property
    def rank_text(self) -> str:
        """'3', '3=' when shared, '-' when not ranked."""
        return "-" if self.rank is None else f"{self.rank}{'=' if self.tied else ''}"

    @property
    def mean(self) -> float:
        """The mean gap (nan when there is none)."""
        return self.gap.mean if self.gap is not None else math.nan


@dataclass(frozen=True)
class TunedVsDefault:
    """A setting's methods with default and with tuned parameters."""

    title: str  # the default setting's title
    tuned_title: str
    lines: list[tuple[str, Side, Side]]  # (method, default, tuned), tuned rank order

    @property
    def compared(self) -> list[str]:
        """Methods run with both default and tuned parameters."""
        return [m for m, d, t in self.lines if (d.gap or d.failed) and (t.gap or t.failed)]

    def p_values(self) -> dict[str, float]:
        """Holm-adjusted p of the paired difference tuned - default per compared method (nan: not testable)."""
        both = [(m, d, t) for m, d, t in self.lines if m in set(self.compared) and d.per_seed and t.per_seed]
        adjusted = holm([paired_p(t.per_seed, d.per_seed) for _, d, t in both])
        return {m: p for (m, _, _), p in zip(both, adjusted)}

    @property
    def improved(self) -> list[str]:
        """Compared methods whose tuned gap is significantly below the default one (or whose default failed on every
        seed while tuned ran)."""
        compared, p = set(self.compared), self.p_values()
        return [m for m, d, t in self.lines if m in compared and math.isfinite(t.mean)
                and (d.failed or (significant(p.get(m, math.nan)) and t.mean < d.mean))]

    @property
    def summary(self) -> str:
        """e.g. 'tuned gap significantly smaller for 5 of 19 methods (paired t-test ...)'."""
        return (f"tuned gap significantly smaller for {len(self.improved)} of {len(self.compared)} methods "
                f"({PAIRED_TEST})")


def side_text(side: Side) -> str:
    """A method's gap in one ranking, '-' when it was not run, 'failed' when every seed failed."""
    return "failed" if side.failed else stat_text(side.gap, VALUES.get(side.name))


def _sides(ranking: Ranking) -> dict[str, Side]:
    name = ranking.setting.gap.composite
    sides = {r.result.method: Side(r.result.metrics.get(name), r.rank, per_seed=r.result.per_seed.get(name, {}),
                                   tied=r.tied, name=name) for r in ranking.ranked if r.result.role == "method"}
    sides.update({m.method: Side(m.metrics.get(name), None, failed=not m.seeds, name=name)
                  for m in ranking.unscored + ranking.apart if m.method not in sides and m.role == "method"})
    return sides


def tuned_vs_default(rankings: Sequence[Ranking]) -> list[TunedVsDefault]:
    """Every setting ranked both with default and with tuned parameters, as side-by-side lines."""
    defaults = {r.setting.identity: r for r in rankings if not r.setting.tuned}
    out = []
    for tuned in (r for r in rankings if r.setting.tuned):
        default = defaults.get(tuned.setting.identity)
        if default is None:
            continue
        d, t = _sides(default), _sides(tuned)
        order = sorted(set(d) | set(t), key=lambda m: (t[m].rank if m in t and t[m].rank else math.inf,
                                                       d[m].rank if m in d and d[m].rank else math.inf, m))
        missing = Side(None, None)
        out.append(TunedVsDefault(default.setting.title, tuned.setting.title,
                                  [(m, d.get(m, missing), t.get(m, missing)) for m in order]))
    return out
