"""The leaderboard: per setting, the rows ranked by the yardstick's composite gap in rank groups, the noise floor
and the original among them, the Pareto-optimal methods marked and the retrained reference apart, as Markdown, CSV
or HTML."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Optional, Sequence

from unlearnbench.core.defaults import LEADERBOARD_FORMAT_NAMES
from unlearnbench.metrics import DEFAULT_YARDSTICK, VALUES
from unlearnbench.reports.aggregate import INTERVAL_NOTE, aggregate, paper_defaults_note
from unlearnbench.reports.comparison import side_text, tuned_vs_default
from unlearnbench.reports.html import template_environment
from unlearnbench.reports.population import (CEILING_NOTE, COLUMNS, POPULATION_FIELDS, population_folders,
                                             population_markdown, population_records, setting_view)
from unlearnbench.reports.provenance import REUSED_MARK, provenance_notes
from unlearnbench.reports.ranking import (PARETO_NOTE, Ranking, headline_values, not_applicable_note, rank_setting,
                                          row_label, value_text, verdict_lines)

ARROWS = {"lower": " ↓", "higher": " ↑"}  # a headline value's declared direction
MARKDOWN_MARK = "\\" + REUSED_MARK  # escaped: a bare '*' can open emphasis or, after '> ', a list


def rankings(rows: Sequence[dict[str, Any]], gap: str = DEFAULT_YARDSTICK) -> list[Ranking]:
    """Every setting's ranking under the gap definition `gap`, settings in the report's order."""
    return [rank_setting(s) for s in aggregate(rows, gap)]


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def leaderboard_markdown(rows: Sequence[dict[str, Any]], gap: str = DEFAULT_YARDSTICK,
                         populations: Optional[Path] = None) -> str:
    """One Markdown table per setting, ready to paste into a README; then one per population stored under
    `populations` (a run's OUT)."""
    out: list[str] = []
    settings = rankings(rows, gap)
    for ranking in settings:
        values = headline_values(ranking.setting)
        header = ["rank", "method", "defaults", *[v.label + ARROWS.get(v.better, "") for v in values],
                  "seeds", "zero-glance", "Pareto"]
        out += ["", f"### {ranking.setting.title}", "",
                f"Gap definition: {ranking.setting.gap.title} ({ranking.setting.gap.label}).", "",
                "| " + " | ".join(header) + " |", "|---:|---|---|" + "---:|" * len(values) + "---:|:---:|:---:|"]
        for r in ranking.ranked:
            m = r.result
            cells = [r.rank_text, _md(row_label(m)), m.defaults_text,
                     *[value_text(m, v, MARKDOWN_MARK) for v in values], m.ok_text, "yes" if m.zero_glance else "no",
                     "yes" if r.pareto else ""]
            out.append("| " + " | ".join(cells) + " |")
        out += [""] + [_md(line) for line in verdict_lines(ranking)] if ranking.ranked else []
        note = paper_defaults_note(ranking.setting)
        out += ["", _md(note) + "."] if note else []
        if ranking.references:
            out += ["", "Reference row, not ranked: " + "; ".join(
                f"{_md(m.label)}: " + ", ".join(f"{v.label} {value_text(m, v, MARKDOWN_MARK)}"
                                                         for v in values) for m in ranking.references) + "."]
        if ranking.unscored:
            out += ["", "Not ranked (no gap): " + ", ".join(f"{_md(m.label)} ({m.ok_text})"
                                                            for m in ranking.unscored) + "."]
        if ranking.setting.not_applicable:
            out += ["", _md(not_applicable_note(ranking.setting)) + "."]
        notes = provenance_notes(ranking.setting.rows)
        out += [""] + [f"> {note.replace(REUSED_MARK, MARKDOWN_MARK)}" for note in notes] if notes else []
    out += _comparison_markdown(settings)
    if out:
        out += ["", f"{PARETO_NOTE}; ↓ lower is better, ↑ higher; mean and {INTERVAL_NOTE}."]
    out += population_markdown(populations) if populations is not None else []
    return "\n".join(out[1:]) if out else "(no results stored)"


def _comparison_markdown(settings: Sequence[Ranking]) -> list[str]:
    """Per setting ranked both ways, the default and tuned gaps side by side."""
    out: list[str] = []
    for c in tuned_vs_default(settings):
        label = VALUES.get(c.lines[0][1].name).label if c.lines else "gap"
        out += ["", f"### Default against tuned parameters: {c.title}", "",
                f"| method | default {label} ↓ | default rank | tuned {label} ↓ | tuned rank |",
                "|---|---:|---:|---:|---:|"]
        out += [f"| {_md(m)} | {side_text(d)} | {d.rank_text} | {side_text(t)} | {t.rank_text} |"
                for m, d, t in c.lines]
        out += ["", f"{c.summary[0].upper()}{c.summary[1:]}."]
    return out


def leaderboard_csv(rows: Sequence[dict[str, Any]], gap: str = DEFAULT_YARDSTICK,
                    populations: Optional[Path] = None) -> str:
    """One CSV row per (setting, method), references included (no rank), with every value's mean and the bounds of
    its 95 % interval (`<name>_lo`, `<name>_hi`); then, where populations are stored under `populations`, one row per
    (population, method) with the POPULATION_FIELDS columns (role `population`, the ceiling's `ceiling`)."""
    settings = rankings(rows, gap)
    records = population_records(populations) if populations is not None else []
    extra = list(POPULATION_FIELDS) if records else []
    values = [v for v in VALUES.select(tiers=("headline", "primary", "detail"))
              if any(v.name in m.metrics for r in settings for m in r.setting.methods)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["setting", "gap_definition", "role", "rank", "method", "version", "pareto", "seeds_ok",
                     "seeds", "zero_glance", *[c for v in values for c in (v.name, f"{v.name}_lo", f"{v.name}_hi")],
                     "time_reused", "speedup_reused", "tuned", "defaults", *extra])
    for ranking in settings:
        lines = [(r.rank_text, r.result, r.pareto) for r in ranking.ranked] + \
                [("", m, False) for m in ranking.references + ranking.apart + ranking.unscored]
        for rank, m, pareto in lines:
            stats = [m.metrics.get(v.name) for v in values]
            writer.writerow([ranking.setting.title, ranking.setting.gap.label, m.role, rank, m.label, m.version,
                             pareto, len(m.seeds), len(m.attempted), m.zero_glance,
                             *[x for st in stats for x in ((st.mean, st.lo, st.hi) if st else ("", "", ""))],
                             m.time_reused, m.speedup_reused, ranking.setting.tuned, m.defaults, *[""] * len(extra)])
        for name in ranking.setting.not_applicable:  # a row that says n/a, never a zero
            writer.writerow([ranking.setting.title, ranking.setting.gap.label, "n/a", "", name, "", "", 0, 0, "",
                             *[""] * (3 * len(values)), "", "", ranking.setting.tuned, "", *[""] * len(extra)])
    for r in records:
        writer.writerow([r["setting"], "", r["role"], r["rank"], r["method"], "", "", "", "", "",
                         *[""] * (3 * len(values)), "", "", "", r["defaults"], *[r[name] for name in extra]])
    return buffer.getvalue()


def leaderboard_html(rows: Sequence[dict[str, Any]], gap: str = DEFAULT_YARDSTICK,
                     populations: Optional[Path] = None) -> str:
    """A self-contained HTML page of the ranking, and of the populations stored under `populations`."""
    settings = rankings(rows, gap)
    folders = population_folders(populations) if populations is not None else []
    return template_environment().get_template("leaderboard.html.j2").render(
        populations=[setting_view(folder) for folder in folders], population_columns=COLUMNS, ceiling_note=CEILING_NOTE,
        rankings=settings, headline=headline_values, pareto_note=PARETO_NOTE, not_applicable=not_applicable_note,
        verdicts=verdict_lines, row_label=row_label, interval_note=INTERVAL_NOTE,
        notes={r.setting.title: provenance_notes(r.setting.rows) for r in settings})


LEADERBOARD_FORMATS = dict(zip(LEADERBOARD_FORMAT_NAMES, (leaderboard_csv, leaderboard_html, leaderboard_markdown)))
