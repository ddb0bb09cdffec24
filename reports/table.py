"""Results as a fixed-width text table, JSON or CSV, for the terminal and for other tools."""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Collection, Sequence

from unlearnbench.core.defaults import TABLE_FORMATS
from unlearnbench.data.forget import ForgetSpec
from unlearnbench.metrics import DEFAULT_YARDSTICK, VALUES, MetricValue, yardstick
from unlearnbench.metrics.base import GROUPS
from unlearnbench.metrics.summary import SIGNAL_ATTACKS, signal_note
from unlearnbench.reports.gaps import with_gaps
from unlearnbench.reports.provenance import (REUSED_MARK, provenance_notes, rests_on_reused, speedup_reused,
                                             time_reused)
from unlearnbench.reports.rows import flat_row, method_label, public_row

def _phases(phases: dict[str, float], reused: Sequence[str]) -> str:
    return " ".join(f"{k}={v:.2f}{REUSED_MARK if k in reused else ''}" for k, v in phases.items()) or "-"


def _values(rows: Sequence[dict[str, Any]], tiers: tuple[str, ...], groups: tuple[str, ...]) -> list[MetricValue]:
    """Declared values of the tiers and groups that some row has."""
    return [v for v in VALUES.select(tiers=tiers, groups=groups)
            if any(v.name in _row_values(row) for row in rows)]


def _row_values(row: dict[str, Any]) -> dict[str, Any]:
    return {**(row.get("metrics") or {}), "time_s": row.get("time_s")}


def _text(row: dict[str, Any], value: MetricValue) -> str:
    mark = REUSED_MARK if rests_on_reused(value.name, time_reused(row), speedup_reused(row)) else ""
    return value.format(_row_values(row).get(value.name)) + (mark if row["status"] == "ok" else "")


def grid(header: Sequence[str], lines: list[list[str]]) -> list[str]:
    """Fixed-width text rows: the header, a rule of dashes, then `lines`, each column as wide as its widest cell."""
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    return out + ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]


def markdown_table(header: Sequence[str], lines: Sequence[Sequence[str]], left: Collection[int] = (0,)) -> list[str]:
    """Markdown table rows: the header, the alignment rule (columns at the indices in `left` left-aligned, the rest
    right-aligned), then `lines`."""
    rule = "|" + "|".join("---" if i in left else "---:" for i in range(len(header))) + "|"
    return ["| " + " | ".join(header) + " |", rule] + ["| " + " | ".join(line) + " |" for line in lines]


def _setting(row: dict[str, Any]) -> str:
    return f"{row['dataset']}/{row['model']} forget {ForgetSpec.from_stored(row['forget']).label}"


def signal_notes(rows: Sequence[dict[str, Any]]) -> list[str]:
    """One line per (setting, seed, MIA) whose original and retrained models the attack cannot separate."""
    notes: list[str] = []
    for row in rows:
        metrics = row.get("metrics") or {}
        for attack in SIGNAL_ATTACKS:
            value = metrics.get(f"{attack}_signal")
            note = signal_note(attack, f"{_setting(row)} seed {row['seed']}", value) if value is not None else None
            if note and note not in notes:
                notes.append(note)
    return notes


def format_table(rows: Sequence[dict[str, Any]], gap: str = DEFAULT_YARDSTICK,
                 context: Sequence[dict[str, Any]] = ()) -> str:
    """A readable report: headline values, accuracies and phases, then privacy and fidelity, then notes and errors.

    Columns come from the metric registry: the headline and primary accuracy values first, every other shown value
    (primary privacy, detail) in the second block. Each row's gaps (definition `gap`) are computed against the
    retrained row of its setting and seed, found among `rows` and `context`.
    """
    if not rows:
        return "(no results stored)"
    ids = {id(r) for r in rows}
    scored = with_gaps([*rows, *(r for r in context if id(r) not in ids)], yardstick(gap))
    rows = scored[:len(rows)]
    first = _values(rows, ("headline", "primary"), ("headline", "accuracy"))
    second = [v for v in _values(rows, ("headline", "primary", "detail"), GROUPS) if v not in first]
    header = ["id", "setting", "seed", "method", "status", *[v.label for v in first], "phases (s)"]
    lines = [[str(row.get("id", "")), _setting(row), str(row["seed"]), method_label(row), row["status"],
              *[_text(row, v) for v in first], _phases(row.get("phases") or {}, row.get("reused_phases") or [])]
             for row in rows]
    out = grid(header, lines)
    if second:
        out += [""] + grid(["id", "method", *[v.label for v in second]],
                            [[str(row.get("id", "")), method_label(row), *[_text(row, v) for v in second]]
                             for row in rows])
    notes = ["MIA scores and distances are best when closest to the retrain row"]
    notes += provenance_notes(rows)
    notes += signal_notes(rows)
    notes += [f"cell {row.get('id', '?')} ({row['method']}) failed: {row['error']}" for row in rows
              if row["status"] != "ok"]
    return "\n".join(out + [""] + notes)


def format_json(rows: Sequence[dict[str, Any]]) -> str:
    """Rows as a JSON array of objects (NaN shown as null)."""
    return json.dumps([public_row(r) for r in rows], indent=2, sort_keys=False)


def format_csv(rows: Sequence[dict[str, Any]]) -> str:
    """Rows as CSV with one column per field, phase and metric."""
    flat = [flat_row(r) for r in rows]
    columns: list[str] = []
    for record in flat:
        columns += [c for c in record if c not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return buffer.getvalue()


FORMATS = dict(zip(TABLE_FORMATS, (format_csv, format_json, format_table)))
