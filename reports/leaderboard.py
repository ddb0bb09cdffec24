"""The leaderboard: per setting, the methods ranked by retrain gap with the Pareto-optimal ones marked and the
reference rows apart, as Markdown, CSV or HTML."""
from __future__ import annotations

import csv
import io
from typing import Any, Sequence

from unlearnbench.metrics import VALUES
from unlearnbench.reports.aggregate import aggregate
from unlearnbench.reports.html import template_environment
from unlearnbench.reports.provenance import REUSED_MARK, provenance_notes
from unlearnbench.reports.comparison import side_text, tuned_vs_default
from unlearnbench.reports.ranking import (PARETO_NOTE, Ranking, headline_values, not_applicable_note, rank_setting,
                                          value_text)

ARROWS = {"lower": " ↓", "higher": " ↑"}  # a headline value's declared direction
MARKDOWN_MARK = "\\" + REUSED_MARK  # escaped: a bare '*' can open emphasis or, after '> ', a list


def rankings(rows: Sequence[dict[str, Any]]) -> list[Ranking]:
    """Every setting's ranking, settings in the report's order."""
    return [rank_setting(s) for s in aggregate(rows)]


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def leaderboard_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """One Markdown table per setting, ready to paste into a README."""
    out: list[str] = []
    settings = rankings(rows)
    for ranking in settings:
        values = headline_values(ranking.setting.scenario)
        header = ["rank", "method", *[v.label + ARROWS.get(v.better, "") for v in values],
                  "seeds", "zero-glance", "Pareto"]
        out += ["", f"### {ranking.setting.title}", "", "| " + " | ".join(header) + " |",
                "|---:|---|" + "---:|" * len(values) + "---:|:---:|:---:|"]
        for r in ranking.ranked:
            m = r.result
            cells = [str(r.rank), _md(m.label), *[value_text(m, v, MARKDOWN_MARK) for v in values],
                     str(len(m.seeds)), "yes" if m.zero_glance else "no", "yes" if r.pareto else ""]
            out.append("| " + " | ".join(cells) + " |")
        if ranking.references:
            out += ["", "Reference rows, not ranked: " + "; ".join(
                f"{_md(m.label)}: " + ", ".join(f"{v.label} {value_text(m, v, MARKDOWN_MARK)}"
                                                         for v in values) for m in ranking.references) + "."]
        if ranking.unscored:
            out += ["", "Not ranked (no retrain gap): " + ", ".join(_md(m.label) for m in ranking.unscored) + "."]
        if ranking.setting.not_applicable:
            out += ["", _md(not_applicable_note(ranking.setting)) + "."]
        notes = provenance_notes(ranking.setting.rows)
        out += [""] + [f"> {note.replace(REUSED_MARK, MARKDOWN_MARK)}" for note in notes] if notes else []
    out += _comparison_markdown(settings)
    if not out:
        return "(no results stored)"
    return "\n".join(out[1:] + ["", f"{PARETO_NOTE}; ↓ lower is better, ↑ higher; mean ± 95 % interval over seeds."])


def _comparison_markdown(settings: Sequence[Ranking]) -> list[str]:
    """Per setting ranked both ways, the default and tuned gaps side by side."""
    out: list[str] = []
    for c in tuned_vs_default(settings):
        out += ["", f"### Default against tuned parameters: {c.title}", "",
                "| method | default retrain gap ↓ | default rank | tuned retrain gap ↓ | tuned rank |",
                "|---|---:|---:|---:|---:|"]
        out += [f"| {_md(m)} | {side_text(d)} | {d.rank or '-'} | {side_text(t)} | {t.rank or '-'} |"
                for m, d, t in c.lines]
        out += ["", f"{c.summary[0].upper()}{c.summary[1:]}."]
    return out


def leaderboard_csv(rows: Sequence[dict[str, Any]]) -> str:
    """One CSV row per (setting, method), references included (no rank), with every value's mean and 95 % CI."""
    settings = rankings(rows)
    values = [v for v in VALUES.select(tiers=("headline", "primary", "detail"))
              if any(v.name in m.metrics for r in settings for m in r.setting.methods)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["setting", "role", "rank", "method", "pareto", "seeds", "zero_glance",
                     *[c for v in values for c in (v.name, f"{v.name}_ci95")], "time_reused", "speedup_reused",
                     "tuned"])
    for ranking in settings:
        lines = [(r.rank, r.result, r.pareto) for r in ranking.ranked] + \
                [("", m, False) for m in ranking.references + ranking.unscored]
        for rank, m, pareto in lines:
            stats = [m.metrics.get(v.name) for v in values]
            writer.writerow([ranking.setting.title, m.role, rank, m.label, pareto, len(m.seeds), m.zero_glance,
                             *[x for st in stats for x in ((st.mean, st.half_width) if st else ("", ""))],
                             m.time_reused, m.speedup_reused, ranking.setting.tuned])
        for name in ranking.setting.not_applicable:  # a row that says n/a, never a zero
            writer.writerow([ranking.setting.title, "n/a", "", name, "", 0, "", *[""] * (2 * len(values)), "", "",
                             ranking.setting.tuned])
    return buffer.getvalue()


def leaderboard_html(rows: Sequence[dict[str, Any]]) -> str:
    """A self-contained HTML page of the ranking."""
    settings = rankings(rows)
    return template_environment().get_template("leaderboard.html.j2").render(
        rankings=settings, values=headline_values(), pareto_note=PARETO_NOTE, not_applicable=not_applicable_note,
        notes={r.setting.title: provenance_notes(r.setting.rows) for r in settings})


LEADERBOARD_FORMATS = {"md": leaderboard_markdown, "csv": leaderboard_csv, "html": leaderboard_html}
