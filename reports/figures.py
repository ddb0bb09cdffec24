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

from unlearnbench.reports.aggregate import MethodResult, SettingResult
from unlearnbench.reports.provenance import REUSED_MARK

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
    return [m for m in setting.methods if m.method != "original"]


def _err(stat) -> float:
    return 0.0 if math.isnan(stat.half_width) else stat.half_width


def _grouped_bars(setting: SettingResult, metrics: tuple[tuple[str, str], ...], title: str, ylabel: str,
                  reference_lines: bool) -> Figure:
    fig = Figure(figsize=(WIDTH, 2.6), layout="constrained")
    ax = fig.add_subplot()
    methods = setting.methods
    x = np.arange(len(methods))
    width = 0.8 / len(metrics)
    reference = setting.reference
    for i, (name, label) in enumerate(metrics):
        means = [m.metrics.get(name).mean if name in m.metrics else np.nan for m in methods]
        errs = [_err(m.metrics[name]) if name in m.metrics else 0 for m in methods]
        offset = (i - (len(metrics) - 1) / 2) * width
        ax.bar(x + offset, means, width, yerr=errs, label=label, color=PALETTE[i], capsize=2)
        if reference_lines and reference is not None and name in reference.metrics:
            level = reference.metrics[name].mean
            ax.hlines(level, x[0] + offset - width / 2, x[-1] + offset + width / 2, colors=PALETTE[i],
                      linestyles="dashed", linewidth=0.8)
    ax.set_xticks(x, [m.label for m in methods], rotation=20, ha="right")
    ax.set_ylim(0, 1.05)  # every plotted score is a rate in [0, 1]; wider intervals are clipped at the frame
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(ncols=len(metrics), loc="upper center", bbox_to_anchor=(0.5, -0.32), frameon=False)
    return fig


def accuracy_bars(setting: SettingResult) -> Figure:
    """Forget-test, retain-test and test accuracy per method."""
    metrics = (("acc_forget_test", "forget test"), ("acc_retain_test", "retain test"), ("acc_test", "test"))
    return _grouped_bars(setting, metrics, f"Accuracy: {setting.title}", "accuracy", reference_lines=False)


def mia_bars(setting: SettingResult) -> Figure:
    """The three MIA scores per method; dashed lines mark the retrained model's level."""
    metrics = (("mia_entropy", "entropy (member rate)"), ("mia_svc", "SVC (non-member rate)"),
               ("mia_loss", "loss (CV accuracy)"))
    return _grouped_bars(setting, metrics, f"MIA, dashed = retrain: {setting.title}", "score", reference_lines=True)


def phase_bars(setting: SettingResult) -> Figure:
    """Seconds per phase of each method, stacked, with the total printed."""
    methods = timed(setting)
    fig = Figure(figsize=(WIDTH, 0.45 * len(methods) + 1.0), layout="constrained")
    ax = fig.add_subplot()
    phases = sorted({p for m in methods for p in m.phases})
    y = np.arange(len(methods))
    left = np.zeros(len(methods))
    for i, phase in enumerate(phases):
        widths = np.array([m.phases[phase].mean if phase in m.phases else 0.0 for m in methods])
        # Seconds reused from an earlier run's measurement are hatched: they were not timed in this run.
        bars = ax.barh(y, widths, left=left, label=phase, color=PALETTE[i % len(PALETTE)])
        for bar, m in zip(bars, methods):
            bar.set_hatch("////" if phase in m.reused_phases else "")
        left += widths
    for yi, m in zip(y, methods):
        mark = f"{REUSED_MARK} (reused)" if m.time_reused else ""
        ax.text(m.time.mean, yi, f" {m.time.mean:.3g} s{mark}", va="center", fontsize=7)
    ax.set_yticks(y, [m.label for m in methods])
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlabel("seconds of unlearn() (symmetric log)")
    ax.set_title(f"Time per phase: {setting.title}")
    if phases:
        ax.legend(ncols=min(len(phases), 5), loc="upper center", bbox_to_anchor=(0.5, -0.25), frameon=False)
    return fig


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both time and gap (lower is better), by time."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    front, best_gap = [], math.inf
    for i in order:
        if points[i][1] < best_gap:
            front.append(i)
            best_gap = points[i][1]
    return front


def pareto_scatter(setting: SettingResult) -> Figure:
    """Time (log) against retrain gap; the Pareto front joins the methods nothing beats on both."""
    fig = Figure(figsize=(WIDTH, 3.0), layout="constrained")
    ax = fig.add_subplot()
    usable: list[MethodResult] = [m for m in timed(setting) if "retrain_gap" in m.metrics and m.time.mean > 0
                                  and math.isfinite(m.metrics["retrain_gap"].mean)]
    points = [(m.time.mean, m.metrics["retrain_gap"].mean) for m in usable]
    for i, (m, (t, g)) in enumerate(zip(usable, points)):
        colour = PALETTE[i % len(PALETTE)]
        # A hollow marker: the time was measured in an earlier run (cached retrain), not in this one.
        face = "none" if m.time_reused else colour
        label = m.label + (REUSED_MARK if m.time_reused else "")
        ax.scatter([t], [g], facecolors=face, edgecolors=colour, zorder=3, label=label)
        ax.annotate(label, (t, g), textcoords="offset points", xytext=(4, 4), fontsize=7)
    front = pareto_front(points)
    if front:
        ax.step([points[i][0] for i in front], [points[i][1] for i in front], where="post", color="0.4",
                linestyle="dashed", linewidth=1, label="Pareto front")
    ax.set_xscale("log")
    hollow = f"; hollow, {REUSED_MARK}: reused from an earlier run" if any(m.time_reused for m in usable) else ""
    ax.set_xlabel(f"seconds of unlearn() (log){hollow}")
    ax.set_ylabel("retrain gap (lower is better)")
    ax.set_title(f"Cost vs fidelity: {setting.title}")
    return fig


FIGURES: dict[str, Callable[[SettingResult], Figure]] = {
    "accuracy": accuracy_bars, "mia": mia_bars, "phases": phase_bars, "pareto": pareto_scatter,
}


def render_svg(kind: str, setting: SettingResult) -> str:
    """Figure `kind` of a setting as an inline SVG element: text drawn as paths, no fonts or requests needed."""
    buffer = io.StringIO()
    with style():
        FIGURES[kind](setting).savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    # matplotlib copies every label into an XML comment; a label holding "-->" could end it early, so drop them.
    # The RDF <metadata> block only names namespaces; it is dropped to keep the page lean.
    text = re.sub(r"<!--.*?-->|<metadata>.*?</metadata>", "", text[text.index("<svg"):], flags=re.DOTALL)
    return text
