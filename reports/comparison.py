"""Default against tuned parameters: per method, the retrain gap of each setting's two rankings side by side."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

from unlearnbench.metrics import VALUES
from unlearnbench.reports.aggregate import Stat
from unlearnbench.reports.ranking import RANK_BY, Ranking, stat_text


@dataclass(frozen=True)
class Side:
    """One method in one ranking: its gap over seeds and its rank (None: failed or not ranked)."""

    gap: Optional[Stat]
    rank: Optional[int]
    failed: bool = False

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

    @property
    def improved(self) -> list[str]:
        """Compared methods whose tuned gap is finite and below the default one (or the default failed)."""
        compared = set(self.compared)
        return [m for m, d, t in self.lines if m in compared and math.isfinite(t.mean) and not d.mean <= t.mean]

    @property
    def summary(self) -> str:
        """e.g. 'tuned gap smaller for 15 of 19 methods'."""
        return f"tuned gap smaller for {len(self.improved)} of {len(self.compared)} methods"


def side_text(side: Side) -> str:
    """A method's gap in one ranking, '-' when it was not run, 'failed' when every seed failed."""
    return "failed" if side.failed else stat_text(side.gap, VALUES.get(RANK_BY))


def _sides(ranking: Ranking) -> dict[str, Side]:
    sides = {r.result.method: Side(r.result.metrics.get(RANK_BY), r.rank) for r in ranking.ranked}
    sides.update({m.method: Side(m.metrics.get(RANK_BY), None) for m in ranking.unscored if m.method not in sides})
    sides.update({row["method"]: Side(None, None, failed=True) for row in ranking.setting.failed
                  if row["method"] not in sides})
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
