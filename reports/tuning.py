"""What tuning found and cost: the CLI summary, the objective-against-trial figure, the report's tuning section."""
from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

from unlearnbench.metrics.summary import TUNING_OBJECTIVE
from unlearnbench.reports.aggregate import SettingResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from unlearnbench.execution.params_file import TunedParams
    from unlearnbench.tuning.tune import Budget, StudyResult

LINESTYLES = ("solid", "dashed", "dotted")  # with the 8 palette colours: 24 methods told apart in one figure


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def params_text(params: Mapping[str, Any]) -> str:
    """Parameters as 'lr=0.0123 epochs=2'."""
    return " ".join(f"{k}={_number(v)}" for k, v in sorted(params.items()))


def format_tuning(results: Sequence["StudyResult"], budget: "Budget") -> str:
    """The tune command's summary: per method the best objective, the budget used and the best parameters."""
    lines = [f"equal budget: {budget.label} per method; objective: {TUNING_OBJECTIVE} (lower is better)", "",
             f"{'method':18s} {'best':>8s} {'first':>8s} {'trials':>6s} {'pruned':>6s} {'failed':>6s} "
             f"{'seconds':>8s}  best parameters"]
    for r in sorted(results, key=lambda r: (math.isnan(r.objective), r.objective)):
        first = r.history[0] if r.history else math.nan
        lines.append(f"{r.method:18s} {r.objective:8.4f} {first:8.4f} {r.trials:6d} {r.pruned:6d} {r.failed:6d} "
                     f"{r.seconds:8.1f}  {params_text(r.params) if math.isfinite(r.objective) else '-'}")
        if r.reasons and (r.pruned or r.failed):
            lines.append(f"{'':18s} why not scored: {r.reasons[0]}")
        if r.at_edge and math.isfinite(r.objective):
            lines.append(f"{'':18s} at the edge of its space: {edge_text(r.at_edge, r.params, r.space)}; better "
                         f"values may lie outside: widen it with --space {r.method}.FIELD=LOW:HIGH[:log]")
    return "\n".join(lines)


def edge_text(edges: Mapping[str, str], params: Mapping[str, Any], space: Mapping[str, str]) -> str:
    """e.g. 'lr=0.0957 (top of 1e-05..0.1 log), epochs=8 (top of 1..8)'."""
    return ", ".join(f"{k}={_number(params.get(k))} ({'top' if end == 'high' else 'bottom'} of {space.get(k, '?')})"
                     for k, end in sorted(edges.items()))


def running_best(history: Sequence[float]) -> list[float]:
    """The best objective so far after each trial (nan until the first scored trial)."""
    out, best = [], math.nan
    for value in history:
        if math.isfinite(value) and not value >= best:
            best = value
        out.append(best)
    return out


def tuning_figure(curves: Mapping[str, Sequence[float]], title: str) -> "Figure":
    """Objective against trial for every method: each trial's value (dots) and the best so far (line)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    from unlearnbench.reports.figures import PALETTE, WIDTH

    fig = Figure(figsize=(WIDTH, 3.2), layout="constrained")
    ax = fig.add_subplot()
    for i, (method, history) in enumerate(sorted(curves.items())):
        colour, style = PALETTE[i % len(PALETTE)], LINESTYLES[(i // len(PALETTE)) % len(LINESTYLES)]
        trials = range(1, len(history) + 1)
        ax.plot(trials, running_best(history), color=colour, linestyle=style, linewidth=1.2, label=method)
        ax.scatter(trials, history, color=colour, s=6, alpha=0.35)
    ax.set_yscale("log")
    # Plain-number ticks: the default log labels are mathtext, which the house style renders as raw text.
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial (counted; pruned and failed trials leave gaps)")
    ax.set_ylabel("val retrain gap (log; line: best so far)")
    ax.set_title(textwrap.fill(title, 70))
    if curves:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=6,
                  ncols=1 if len(curves) <= 14 else 2)
    return fig


def write_tuning_figure(tuned: "TunedParams", path: Path) -> Path:
    """Writes the objective-against-trial figure of a tuned-parameters file as a PNG; returns its path."""
    from unlearnbench.reports.figures import style

    curves = {name: entry.get("history", []) for name, entry in tuned.methods.items()}
    with style():
        tuning_figure(curves, f"Tuning: {tuned.describe()}").savefig(path, dpi=200)
    return path


def budget_label(trials: Optional[int], seconds: Optional[float], seeds: int = 1) -> str:
    """A budget as shown: '20 trials' or '60 s', with ' x 3 seeds' when each trial is scored on several."""
    label = f"{trials} trials" if trials is not None else f"{seconds:g} s"
    return label + (f" x {seeds} seeds" if seeds > 1 else "")


@dataclass(frozen=True)
class TuningEntry:
    """One tuned method of a setting as the report shows it."""

    method: str
    params: dict[str, Any]
    provenance: dict[str, Any]

    @property
    def budget(self) -> str:
        """e.g. '20 trials' or '60 s x 3 seeds'."""
        return budget_label(self.provenance.get("budget_trials"), self.provenance.get("budget_seconds", math.nan),
                            len(self.provenance.get("tune_seeds") or [0]))


def tuning_entries(setting: SettingResult) -> list[TuningEntry]:
    """The setting's tuned methods with what their tuning found and cost (empty for default settings)."""
    return [TuningEntry(m.label, m.tuned.get("params") or {}, m.tuned) for m in setting.methods if m.tuned]


def tuning_svg(entries: Sequence[TuningEntry], title: str) -> Optional[str]:
    """The entries' objective-against-trial figure as inline SVG, or None when nothing was tuned."""
    from unlearnbench.reports.figures import style, svg_of

    if not entries:
        return None
    curves = {e.method: e.provenance.get("history") or [] for e in entries}
    with style():
        return svg_of(tuning_figure(curves, f"Tuning on the validation split: {title}"))
