"""The self-contained HTML report: one file, inline CSS, SVG figures, no network requests."""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from itertools import groupby
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

from unlearnbench.metrics import DEFAULT_YARDSTICK, VALUES, MetricValue
from unlearnbench.metrics.summary import SIGNAL_ATTACKS, signal_note
from unlearnbench.reports.aggregate import (INTERVAL_NOTE, MethodResult, SettingResult, Stat, aggregate,
                                            paper_defaults_note)
from unlearnbench.reports.comparison import side_text
from unlearnbench.reports.comparison import tuned_vs_default
from unlearnbench.reports.provenance import REUSED_MARK, provenance_notes
from unlearnbench.reports.ranking import (PARETO_NOTE, Ranking, headline_values, interval_text, not_applicable_note,
                                          rank_setting, reused, row_label, value_text, verdict_lines)
from unlearnbench.reports.tuning import TuningEntry, params_text, tuning_entries, tuning_svg

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).with_name("templates")
SHOWN_TIERS = ("headline", "primary")  # columns visible at first; "detail" columns expand on demand
FAR = 0.25  # a fraction this far from the retrained model's is coloured fully "far"


@dataclass(frozen=True)
class Column:
    """A table column: the declared value it shows, and whether it starts hidden."""

    value: MetricValue
    detail: bool

    @property
    def name(self) -> str:
        """The value's key."""
        return self.value.name


@dataclass(frozen=True)
class SettingView:
    """What the template shows for one setting: its ranking, columns, warnings and rendered figures."""

    setting: SettingResult
    ranking: Ranking
    columns: list[Column]
    spread: dict[str, float]  # per unbounded value, the largest distance to retrain among the rows (colour scale)
    notes: list[str]
    figures: list[tuple[str, str]]
    tuning: list[TuningEntry]  # what tuning found and cost, for settings of tuned methods
    tuning_figure: Optional[str]  # objective against trial, inline SVG

    @property
    def column_groups(self) -> list[tuple[str, int, int]]:
        """(group, shown columns, detail columns) in column order, for the grouped header row."""
        return [(group, sum(not c.detail for c in cols), sum(c.detail for c in cols))
                for group, cols in ((g, list(cs)) for g, cs in groupby(self.columns, key=lambda c: c.value.group))]


def fmt(value: Optional[float], col: Column) -> str:
    """A number in the column's declared format."""
    return col.value.format(value)


def delta(value: float, reference: float, col: Column) -> str:
    """The signed difference to the retrain reference in the column's units."""
    if not (math.isfinite(value) and math.isfinite(reference)) or col.value.unit == "speedup":
        return ""
    diff = value - reference
    return ("+" if diff >= 0 else "-") + fmt(abs(diff), col)


def cell(method: MethodResult, name: str) -> Optional[Stat]:
    """The statistic shown in column `name` for a method."""
    return method.metrics.get(name)


def reused_mark(method: MethodResult, name: str) -> str:
    """The reused-measurement mark for a method's seconds or speedup column, else ''."""
    return REUSED_MARK if reused(method, name) else ""


def closeness(view: SettingView, method: MethodResult, col: Column) -> str:
    """A cell's background: green at the retrained model's value, through yellow, to red far from it ('' if n/a)."""
    reference, stat = view.setting.reference, method.metrics.get(col.name)
    if method.role == "reference" or stat is None or not math.isfinite(stat.mean):
        return ""
    ref = reference.metrics.get(col.name) if reference is not None else None
    distance = col.value.distance(stat.mean, ref.mean if ref is not None else None)
    if not math.isfinite(distance):
        return ""
    scale = FAR if col.value.unit in ("percent", "rate") else view.spread.get(col.name, math.nan)
    far = min(1.0, distance / scale) if scale and math.isfinite(scale) else 0.0
    return f"background: hsl({120 * (1 - far):.0f}, 70%, 88%)"


def signal_notes(setting: SettingResult) -> list[str]:
    """Warnings for attacks that cannot separate the original from the retrained model here."""
    notes = []
    for attack in SIGNAL_ATTACKS:
        stats = [m.metrics[f"{attack}_signal"] for m in setting.methods if f"{attack}_signal" in m.metrics]
        note = signal_note(attack, "this setting", stats[0].mean) if stats else None
        if note:
            notes.append(note)
    return notes


def template_environment() -> "jinja2.Environment":
    """The Jinja2 environment of the report templates: autoescaped, strict about undefined names."""
    import jinja2  # loads with the first rendering, not at start-up

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(fmt=fmt, delta=delta, cell=cell, reused_mark=reused_mark, closeness=closeness,
                       value_text=value_text, not_applicable=not_applicable_note, defaults_note=paper_defaults_note, params_text=params_text,
                       side_text=side_text, interval=interval_text, verdicts=verdict_lines, row_label=row_label,
                       headline_of=headline_values)
    return env


def _columns(setting: SettingResult) -> list[Column]:
    """Every declared, non-stored value some row of the setting has, headline first; the gap's parts start hidden
    (the headline above shows them)."""
    present = {n for m in setting.methods for n in m.metrics}
    return [Column(v, v.tier not in SHOWN_TIERS or v.name in setting.gap.parts)
            for v in VALUES.select(tiers=("headline", "primary", "detail"), scenario=setting.scenario)
            if v.name in present]


def _spread(setting: SettingResult, columns: list[Column]) -> dict[str, float]:
    reference = setting.reference
    out = {}
    for col in columns:
        ref = reference.metrics.get(col.name) if reference is not None else None
        distances = [col.value.distance(m.metrics[col.name].mean, ref.mean if ref is not None else None)
                     for m in setting.methods if col.name in m.metrics and m.role != "reference"]
        finite = [d for d in distances if math.isfinite(d)]
        out[col.name] = max(finite) if finite else math.nan
    return out


def setting_view(setting: SettingResult) -> SettingView:
    """One setting as the report shows it."""
    from unlearnbench.reports.figures import FIGURES, render_svg  # matplotlib loads with the first report

    columns = _columns(setting)
    drawn = [(name, render_svg(name, setting)) for name in FIGURES] if setting.methods else []
    tuning = tuning_entries(setting)
    return SettingView(setting, rank_setting(setting), columns, _spread(setting, columns),
                       provenance_notes(setting.rows) + signal_notes(setting), drawn, tuning,
                       tuning_svg(tuning, setting.title))


def render_report(rows: Sequence[dict[str, Any]], store: str = "results.db", gap: str = DEFAULT_YARDSTICK) -> str:
    """The whole report as one HTML string, every gap under the definition `gap`."""
    views = [setting_view(s) for s in aggregate(rows, gap)]
    comparisons = {c.tuned_title: c for c in tuned_vs_default([v.ranking for v in views])}
    return template_environment().get_template("report.html.j2").render(
        views=views, cells=len(rows), store=store, pareto_note=PARETO_NOTE, interval_note=INTERVAL_NOTE,
        comparisons=comparisons,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_report(rows: Sequence[dict[str, Any]], path: Path, store: str = "results.db",
                 gap: str = DEFAULT_YARDSTICK) -> Path:
    """Renders the report to `path` (written atomically) and returns it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    html = render_report(rows, store, gap)
    # A temporary file of its own per writer: concurrent reports on one store each rename a whole file into place.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide the report from other users of a shared folder
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(html)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
