"""Results as a fixed-width text table, JSON or CSV, for the terminal and for other tools."""
from __future__ import annotations

import csv
import io
import json
import math
from typing import Any, Sequence

from unlearnbench.reports.rows import flat_row, public_row

# (header, metric name): the columns a reader compares first; every metric is in JSON/CSV.
ACCURACY_COLUMNS = (
    ("forget_test", "acc_forget_test"), ("retain_test", "acc_retain_test"), ("test", "acc_test"),
    ("forget_train", "acc_forget_train"), ("retain_train", "acc_retain_train"),
)


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{100 * value:.2f}"


def _phases(phases: dict[str, float], reused: Sequence[str]) -> str:
    return " ".join(f"{k}={v:.2f}{'*' if k in reused else ''}" for k, v in phases.items()) or "-"


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A readable table: one line per cell, accuracies in %, seconds per phase, errors last."""
    if not rows:
        return "(no results stored)"
    header = ["id", "setting", "seed", "method", "status", "time_s", *[h for h, _ in ACCURACY_COLUMNS], "phases (s)"]
    lines = []
    for row in rows:
        metrics = row.get("metrics") or {}
        setting = f"{row['dataset']}/{row['model']} forget {','.join(map(str, row['forget']))}"
        time_s = f"{row['time_s']:.3f}" if row.get("time_s") is not None else "-"
        lines.append([str(row.get("id", "")), setting, str(row["seed"]), row["method"], row["status"], time_s,
                      *[_pct(metrics.get(m)) for _, m in ACCURACY_COLUMNS],
                      _phases(row.get("phases") or {}, row.get("reused_phases") or [])])
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    notes = ["accuracies in %; * = seconds reused from the cached measurement"]
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


FORMATS = {"table": format_table, "json": format_json, "csv": format_csv}
