"""The leaderboard: methods ranked by retrain gap per setting, as Markdown, CSV or HTML."""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any, Sequence

from unlearnbench.reports.aggregate import MethodResult, SettingResult, Stat, aggregate
from unlearnbench.reports.html import template_environment
from unlearnbench.reports.provenance import REUSED_MARK, provenance_notes
from unlearnbench.reports.rows import format_speedup


@dataclass(frozen=True)
class Entry:
    """One leaderboard line."""

    setting: str
    rank: int
    method: str
    zero_glance: bool
    gap: Stat
    speedup: Stat
    time: Stat
    seeds: int
    time_reused: bool = False  # seconds from an earlier run's measurement (a cached retrain)
    speedup_reused: bool = False  # divides by retrain seconds from an earlier run


def _stat_text(stat: Stat, digits: int = 4) -> str:
    if not math.isfinite(stat.mean):
        return "-"
    text = f"{stat.mean:.{digits}f}"
    return text + (f" ± {stat.half_width:.{digits}f}" if stat.n > 1 and math.isfinite(stat.half_width) else "")


def _speed_text(stat: Stat, reused: bool = False, mark: str = REUSED_MARK) -> str:
    return format_speedup(stat.mean) + (mark if reused and math.isfinite(stat.mean) else "")


def _time_text(stat: Stat, reused: bool = False, mark: str = REUSED_MARK) -> str:
    return _stat_text(stat, 3) + (mark if reused and math.isfinite(stat.mean) else "")


MARKDOWN_MARK = "\\" + REUSED_MARK  # escaped: a bare '*' can open emphasis or, after '> ', a list


def rank(settings: Sequence[SettingResult]) -> list[Entry]:
    """Per setting, every method with a retrain gap, best (lowest gap) first; ties broken by time."""
    entries = []
    for s in settings:
        scored: list[MethodResult] = [m for m in s.methods if "retrain_gap" in m.metrics
                                      and math.isfinite(m.metrics["retrain_gap"].mean)]
        scored.sort(key=lambda m: (m.metrics["retrain_gap"].mean, m.time.mean))
        for i, m in enumerate(scored, 1):
            entries.append(Entry(s.title, i, m.label, m.zero_glance, m.metrics["retrain_gap"],
                                 m.metrics.get("speedup_vs_retrain", Stat(math.nan, math.nan, 0)), m.time,
                                 len(m.seeds), m.time_reused, m.speedup_reused))
    return entries


def setting_notes(settings: Sequence[SettingResult]) -> dict[str, list[str]]:
    """Per setting title, the warnings about its seconds (reused measurements, busy machine)."""
    return {s.title: provenance_notes(s.rows) for s in settings}


def leaderboard_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """One Markdown table per setting, ready to paste into a README."""
    out: list[str] = []
    settings = aggregate(rows)
    notes = setting_notes(settings)
    for setting, entries in _by_setting(rank(settings)):
        out += ["" if out else None, f"### {setting}", "",
                "| rank | method | retrain gap ↓ | speedup vs retrain | seconds | seeds | zero-glance |",
                "|---:|---|---:|---:|---:|---:|:---:|"]
        for e in entries:
            method = e.method.replace("|", "\\|")
            speed = _speed_text(e.speedup, e.speedup_reused, MARKDOWN_MARK)
            out.append(f"| {e.rank} | {method} | {_stat_text(e.gap)} | {speed} | "
                       f"{_time_text(e.time, e.time_reused, MARKDOWN_MARK)} | {e.seeds} | "
                       f"{'yes' if e.zero_glance else 'no'} |")
        if notes[setting]:
            out += [""] + [f"> {note.replace(REUSED_MARK, MARKDOWN_MARK)}" for note in notes[setting]]
    return "\n".join(line for line in out if line is not None) or "(no results stored)"


def _by_setting(entries: list[Entry]) -> list[tuple[str, list[Entry]]]:
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        groups.setdefault(e.setting, []).append(e)
    return list(groups.items())


def leaderboard_csv(rows: Sequence[dict[str, Any]]) -> str:
    """One CSV row per (setting, method), with means and 95 % CI half-widths."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["setting", "rank", "method", "retrain_gap", "retrain_gap_ci95", "speedup_vs_retrain",
                     "time_s", "time_s_ci95", "seeds", "zero_glance", "time_reused", "speedup_reused"])
    for e in rank(aggregate(rows)):
        writer.writerow([e.setting, e.rank, e.method, e.gap.mean, e.gap.half_width, e.speedup.mean, e.time.mean,
                         e.time.half_width, e.seeds, e.zero_glance, e.time_reused, e.speedup_reused])
    return buffer.getvalue()


def leaderboard_html(rows: Sequence[dict[str, Any]]) -> str:
    """A self-contained HTML page of the ranking."""
    settings = aggregate(rows)
    return template_environment().get_template("leaderboard.html.j2").render(
        groups=_by_setting(rank(settings)), notes=setting_notes(settings), stat=_stat_text, speed=_speed_text,
        seconds=_time_text)


LEADERBOARD_FORMATS = {"md": leaderboard_markdown, "csv": leaderboard_csv, "html": leaderboard_html}
