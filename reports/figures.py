"""The report's plots, drawn with matplotlib's object API in one print-ready, colour-blind-safe style."""
from __future__ import annotations

import io
import math
import re
from contextlib import contextmanager
from typing import Callable, Iterator

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from unlearnbench.metrics import VALUES, MetricValue
from unlearnbench.metrics.base import BAR_UNITS
from unlearnbench.reports.aggregate import MethodResult, SettingResult
from unlearnbench.reports.provenance import REUSED_MARK
from unlearnbench.reports.ranking import rank_setting

# Okabe & Ito (2008) colour-blind-safe palette.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
STYLE = {
    "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "legend.fontsize": 7, "xtick.labelsize": 7,
    "ytick.labelsize": 7, "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.alpha": 0.3, "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "pdf.fonttype": 42, "ps.fonttype": 42,  # embed TrueType fonts (journals reject Type 3)
    "svg.fonttype": "path", "svg.hashsalt": "unlearnbench",  # self-contained, reproducible SVG
    "text.parse_math": False,  # labels are stored text (method names): a '$' is a character, never mathtext
}
WIDTH = 5.5  # inches: fits one column of a two-column paper at 1.6x, or a full text width


@contextmanager
def style() -> Iterator[None]:
    """The house plotting style."""
    with matplotlib.rc_context(STYLE):
        yield


def timed(setting: SettingResult) -> list[MethodResult]:
    """Methods whose time means something: all but the untouched original."""
    return [m for m in setting.methods if m.role != "original"]


def _err(stat) -> tuple[float, float]:
    """(below, above) the mean: the interval's ends, which a bound may have clipped (0 with one seed)."""
    if not math.isfinite(stat.lo):
        return 0.0, 0.0
    return stat.mean - stat.lo, stat.hi - stat.mean


def bar_values(setting: SettingResult, group: str) -> list[MetricValue]:
    """The registry's primary values of `group` that lie in [0, 1] and some method of the setting has."""
    return [v for v in VALUES.select(tiers=("primary",), groups=(group,), scenario=setting.scenario)
            if v.unit in BAR_UNITS and any(v.name in m.metrics for m in setting.methods)]


def ranked_methods(setting: SettingResult) -> list[MethodResult]:
    """The rows a figure draws, in the headline's order: ranked methods, then unranked ones; the retrained model is
    drawn as a line, never as a row."""
    ranking = rank_setting(setting)
    return [r.result for r in ranking.ranked] + [m for m in ranking.apart + ranking.unscored]


def _panels(setting: SettingResult, panels: list[tuple[str, list[MetricValue]]], title: str) -> Figure:
    """One horizontal bar group per method (a row each, in ranking order), one panel per entry of `panels`; the
    retrained model's value of each bar is a dashed line in the bar's colour. Legible at any number of methods: the
    figure grows with the rows, and only the first panel names them."""
    methods = ranked_methods(setting)
    panels = [(name, values) for name, values in panels if values]
    widest = max((len(values) for _, values in panels), default=1)
    row = 0.12 + 0.07 * widest  # inches per method: room for its bars and one tick label
    # Titles and the legends under the panels take about 1.4 in plus a line per legend entry, whatever the rows.
    fig = Figure(figsize=(WIDTH, 1.4 + 0.12 * widest + row * max(2, len(methods))), layout="constrained")
    axes = fig.subplots(1, max(1, len(panels)), sharey=True, squeeze=False)[0]
    y = np.arange(len(methods))[::-1]  # the best-ranked method at the top
    reference = setting.reference
    for ax, (name, values) in zip(axes, panels):
        height = 0.8 / len(values)
        for i, value in enumerate(values):
            colour = PALETTE[i % len(PALETTE)]
            means = [m.metrics[value.name].mean if value.name in m.metrics else np.nan for m in methods]
            errs = np.array([_err(m.metrics[value.name]) if value.name in m.metrics else (0.0, 0.0) for m in methods])
            offset = ((len(values) - 1) / 2 - i) * height
            ax.barh(y + offset, means, height, xerr=errs.T.reshape(2, -1), color=colour, label=value.label,
                    error_kw={"elinewidth": 0.6, "capsize": 1.5})
            if reference is not None and value.name in reference.metrics:
                ax.axvline(reference.metrics[value.name].mean, color=colour, linestyle="dashed", linewidth=0.9)
        ax.set_xlim(0, 1.05)  # every plotted value is a fraction in [0, 1]; wider intervals are clipped at the frame
        ax.set_title(name)
        # Below the x tick labels: about 0.25 in under the axes, whatever their height.
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25 / (row * max(1, len(methods)))), frameon=False,
                  fontsize=6)
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(y, [m.label for m in methods])
    axes[0].set_ylim(-0.6, len(methods) - 0.4)
    fig.suptitle(f"{title} (dashed: the retrained model): {setting.title}", fontsize=9)
    return fig


def concern_panels(setting: SettingResult) -> list[tuple[str, list[MetricValue]]]:
    """(concern, its fraction-valued members) for each part of the setting's yardstick: forgetting, utility,
    privacy."""
    present = {n for m in setting.methods for n in m.metrics}
    out = []
    for part, names in setting.gap.members(setting.scenario).items():
        declared = [VALUES.get(n) for n in names if n in present]
        values = [v for v in declared if v is not None and v.unit in BAR_UNITS]
        out.append((VALUES.get(part).label.removesuffix(" gap").capitalize(), values))
    return out


def accuracy_bars(setting: SettingResult) -> Figure:
    """Each concern of the yardstick in its own panel, every method a row."""
    return _panels(setting, concern_panels(setting), "Forgetting, utility and privacy")


def mia_bars(setting: SettingResult) -> Figure:
    """Each primary membership-inference value in its own panel, every method a row."""
    return _panels(setting, [(v.label, [v]) for v in bar_values(setting, "privacy")], "Membership inference")


def phase_bars(setting: SettingResult) -> Figure:
    """One bar per method: its phases stacked in the order it ran them, on a linear axis, the total at the end."""
    methods = timed(setting)
    fig = Figure(figsize=(WIDTH, 0.3 * len(methods) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    phases = list(dict.fromkeys(p for m in methods for p in m.phases))  # one colour per phase name
    colour = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(phases)}
    y = np.arange(len(methods))[::-1]  # first method at the top
    for yi, m in zip(y, methods):
        left = 0.0
        for phase, stat in m.phases.items():
            # Seconds reused from an earlier run's measurement are hatched: they were not timed in this run.
            ax.barh(yi, stat.mean, left=left, color=colour[phase], hatch="////" if phase in m.reused_phases else "")
            left += stat.mean
    longest = max((m.time.mean for m in methods if math.isfinite(m.time.mean)), default=1.0) or 1.0
    for yi, m in zip(y, methods):
        mark = f"{REUSED_MARK} (reused)" if m.time_reused else ""
        ax.text(m.time.mean + 0.01 * longest, yi, f"{m.time.mean:.3g} s{mark}", va="center", fontsize=7)
    ax.set_xlim(0, longest * 1.3)  # room for the total labels inside the axes
    ax.set_yticks(y, [m.label for m in methods])
    ax.set_xlabel("seconds of unlearn()")
    ax.set_title(f"Time per phase: {setting.title}")
    if phases:
        handles = [Patch(color=colour[p], label=p) for p in phases]
        # Below the axis label (anchored in figure space), one row for up to six phases.
        fig.legend(handles=handles, ncols=min(len(phases), 6), loc="outside lower center", frameon=False)
    return fig


def pareto_scatter(setting: SettingResult) -> Figure:
    """Time (log) against the composite gap, each point numbered by its rank; the Pareto front joins the methods nothing
    beats on both. A numbered legend keeps 25 methods legible where name labels would collide."""
    ranking = rank_setting(setting)
    usable = [r for r in ranking.ranked if r.result.time.mean > 0]
    composite = setting.gap.composite
    fig = Figure(figsize=(WIDTH, 3.0 + 0.06 * max(0, len(usable) - 8)), layout="constrained")
    ax = fig.add_subplot()
    for i, r in enumerate(usable):
        m, colour = r.result, PALETTE[i % len(PALETTE)]
        t, g = m.time.mean, m.metrics[composite].mean
        # A hollow marker: the time was measured in an earlier run (cached retrain), not in this one.
        ax.scatter([t], [g], s=60 if r.pareto else 30, marker="D" if r.pareto else "o", zorder=3,
                   facecolors="none" if m.time_reused else colour, edgecolors=colour,
                   label=f"{r.rank_text}. {m.label}{REUSED_MARK if m.time_reused else ''}{' (Pareto)' if r.pareto else ''}")
        ax.annotate(r.rank_text, (t, g), textcoords="offset points", xytext=(5, 3), fontsize=7)
    front = [r for r in usable if r.pareto]
    if front:
        ax.step([r.result.time.mean for r in front], [r.result.metrics[composite].mean for r in front],
                where="post", color="0.4", linestyle="dashed", linewidth=1)
    ax.set_xscale("log")
    # Plain-number ticks: the default log labels are mathtext, which the house style renders as raw text.
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    hollow = f"; hollow, {REUSED_MARK}: reused from an earlier run" if any(r.result.time_reused for r in usable) else ""
    ax.set_xlabel(f"seconds of unlearn() (log){hollow}")
    ax.set_ylabel(f"{VALUES.get(composite).label} (lower is better)")
    ax.set_title(f"Cost vs fidelity: {setting.title}")
    if usable:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=6,
                  ncols=1 if len(usable) <= 14 else 2, title="rank, method; dashed: Pareto front", title_fontsize=6)
    return fig


FIGURES: dict[str, Callable[[SettingResult], Figure]] = {
    "accuracy": accuracy_bars, "mia": mia_bars, "phases": phase_bars, "pareto": pareto_scatter,
}


def render_svg(kind: str, setting: SettingResult) -> str:
    """Figure `kind` of a setting as an inline SVG element: text drawn as paths, no fonts or requests needed."""
    with style():
        return svg_of(FIGURES[kind](setting))


def svg_of(figure: Figure) -> str:
    """A figure as an inline SVG element (call it inside `style()`, where the figure was drawn)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    # matplotlib copies every label into an XML comment; a label holding "-->" could end it early, so drop them.
    # The RDF <metadata> block only names namespaces; it is dropped to keep the page lean.
    text = re.sub(r"<!--.*?-->|<metadata>.*?</metadata>", "", text[text.index("<svg"):], flags=re.DOTALL)
    return text
