"""The self-contained HTML report: one file, inline CSS, SVG figures, no network requests."""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

from unlearnbench.metrics.summary import SIGNAL_ATTACKS, signal_note
from unlearnbench.reports.aggregate import MethodResult, SettingResult, Stat, aggregate
from unlearnbench.reports.provenance import REUSED_MARK, provenance_notes
from unlearnbench.reports.rows import format_speedup

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class Column:
    """A table column: metric name, header, number format and tooltip."""

    name: str
    header: str
    pattern: str
    help: str


COLUMNS = (
    Column("time_s", "seconds", "{:.3g}", "seconds of unlearn(), device-synchronised"),
    Column("speedup_vs_retrain", "speedup", "{:.1f}x", "retrain seconds / method seconds"),
    Column("acc_forget_test", "forget test", "{:.2%}", "accuracy on the forgotten classes' test samples"),
    Column("acc_retain_test", "retain test", "{:.2%}", "accuracy on the other classes' test samples"),
    Column("acc_test", "test", "{:.2%}", "accuracy on the whole test split"),
    Column("acc_forget_train", "forget train", "{:.2%}", "accuracy on the forgotten classes' train samples"),
    Column("acc_retain_train", "retain train", "{:.2%}", "accuracy on the other classes' train samples"),
    Column("mia_entropy", "MIA entropy", "{:.3f}", "share of forget-train an entropy attack calls member"),
    Column("mia_svc", "MIA SVC", "{:.3f}", "share of forget-train an SVC on true-class confidence calls non-member"),
    Column("mia_loss", "MIA loss", "{:.3f}", "CV accuracy of a loss attack, forget-train vs forget-test"),
    Column("lira_auc", "LiRA AUC", "{:.3f}", "per-example attack: AUC against the retrained model (0.5 ideal)"),
    Column("js_to_retrain", "JS", "{:.4f}", "Jensen-Shannon divergence to the retrained model on forget-train"),
    Column("act_dist_to_retrain", "act. dist.", "{:.4f}", "L2 distance of softmax outputs to the retrained model"),
    Column("weight_dist_to_retrain", "weight dist.", "{:.2f}", "L2 distance of the weights to the retrained model"),
    Column("retrain_gap", "retrain gap", "{:.4f}", "mean |difference| to retrain over accuracies and MIAs"),
    Column("peak_mem", "peak MB", "{:.0f}", "peak device memory (CPU: peak RSS of the process)"),
)


@dataclass(frozen=True)
class SettingView:
    """What the template shows for one setting: its results, warnings and rendered figures."""

    setting: SettingResult
    notes: list[str]
    figures: list[tuple[str, str]]


def fmt(value: Optional[float], col: Column) -> str:
    """A number in the column's format ('-' when missing; speedups capped as in every rendering)."""
    if col.name == "speedup_vs_retrain":
        return format_speedup(value)
    if value is None or not math.isfinite(value):
        return "-"
    return col.pattern.format(value)


def delta(value: float, reference: float, col: Column) -> str:
    """The signed difference to the retrain reference in the column's units."""
    if not (math.isfinite(value) and math.isfinite(reference)):
        return ""
    diff = value - reference
    return ("+" if diff >= 0 else "-") + fmt(abs(diff), col)


def cell(method: MethodResult, name: str) -> Optional[Stat]:
    """The statistic shown in column `name` for a method."""
    if name == "time_s":
        return method.time
    return method.metrics.get(name)


def reused_mark(method: MethodResult, name: str) -> str:
    """The reused-measurement mark for a method's seconds or speedup column, else ''."""
    if (name == "time_s" and method.time_reused) or (name == "speedup_vs_retrain" and method.speedup_reused):
        return REUSED_MARK
    return ""


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
    env.globals.update(fmt=fmt, delta=delta, cell=cell, reused_mark=reused_mark)
    return env


def _with_peak_memory(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Exposes peak memory (MB) as a metric so it aggregates over seeds like the rest."""
    out = []
    for row in rows:
        if row.get("peak_mem_bytes"):
            row = {**row, "metrics": {**row["metrics"], "peak_mem": row["peak_mem_bytes"] / 2**20}}
        out.append(row)
    return out


def render_report(rows: Sequence[dict[str, Any]], store: str = "results.db") -> str:
    """The whole report as one HTML string."""
    from unlearnbench.reports.figures import FIGURES, render_svg  # matplotlib loads with the first report

    settings = aggregate(_with_peak_memory(rows))
    views = [SettingView(s, provenance_notes(s.rows) + signal_notes(s),
                         [(name, render_svg(name, s)) for name in FIGURES] if s.methods else [])
             for s in settings]
    present = {n for s in settings for m in s.methods for n in m.metrics} | {"time_s"}
    columns = [c for c in COLUMNS if c.name in present]
    return template_environment().get_template("report.html.j2").render(
        views=views, columns=columns, cells=len(rows), store=store,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_report(rows: Sequence[dict[str, Any]], path: Path, store: str = "results.db") -> Path:
    """Renders the report to `path` (written atomically) and returns it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    html = render_report(rows, store)
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
