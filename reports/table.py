"""Results as a fixed-width text table, JSON or CSV, for the terminal and for other tools."""
from __future__ import annotations

import csv
import io
import json
import math
from typing import Any, Sequence

from unlearnbench.metrics.summary import SIGNAL_ATTACKS, signal_note
from unlearnbench.reports.provenance import REUSED_MARK, provenance_notes, speedup_reused, time_reused
from unlearnbench.reports.rows import flat_row, format_speedup, public_row

# (header, metric name): the columns a reader compares first; every metric is in JSON/CSV.
ACCURACY_COLUMNS = (
    ("forget_test", "acc_forget_test"), ("retain_test", "acc_retain_test"), ("test", "acc_test"),
    ("forget_train", "acc_forget_train"), ("retain_train", "acc_retain_train"),
)


def _pct(value: Any) -> str:
    return _fmt(100 * value if isinstance(value, (int, float)) else value, "{:.2f}")


def _phases(phases: dict[str, float], reused: Sequence[str]) -> str:
    return " ".join(f"{k}={v:.2f}{REUSED_MARK if k in reused else ''}" for k, v in phases.items()) or "-"


# (header, metric name, format) of the privacy and fidelity block.
PRIVACY_COLUMNS = (
    ("mia_entropy", "mia_entropy", "{:.3f}"), ("auc", "mia_entropy_auc", "{:.3f}"),
    ("mia_svc", "mia_svc", "{:.3f}"), ("auc", "mia_svc_auc", "{:.3f}"),
    ("mia_loss", "mia_loss", "{:.3f}"), ("auc", "mia_loss_auc", "{:.3f}"),
    ("js", "js_to_retrain", "{:.4f}"), ("act_dist", "act_dist_to_retrain", "{:.4f}"),
    ("weight_dist", "weight_dist_to_retrain", "{:.2f}"), ("lira_auc", "lira_auc", "{:.3f}"),
    ("tpr@1%fpr", "lira_tpr_at_1fpr", "{:.3f}"), ("speedup", "speedup_vs_retrain", "speedup"),
    ("retrain_gap", "retrain_gap", "{:.4f}"),
)


def _fmt(value: Any, pattern: str) -> str:
    if pattern == "speedup":
        return format_speedup(value)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return pattern.format(value)


def _grid(header: Sequence[str], lines: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    return out + ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]


def _setting(row: dict[str, Any]) -> str:
    return f"{row['dataset']}/{row['model']} forget {','.join(map(str, row['forget']))}"


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


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A readable report: accuracies and seconds, then privacy and fidelity, then notes and errors."""
    if not rows:
        return "(no results stored)"
    header = ["id", "setting", "seed", "method", "status", "time_s", *[h for h, _ in ACCURACY_COLUMNS], "phases (s)"]
    lines = []
    for row in rows:
        metrics = row.get("metrics") or {}
        time_s = f"{row['time_s']:.3f}" if row.get("time_s") is not None else "-"
        time_s += REUSED_MARK if time_reused(row) else ""
        lines.append([str(row.get("id", "")), _setting(row), str(row["seed"]), row["method"], row["status"], time_s,
                      *[_pct(metrics.get(m)) for _, m in ACCURACY_COLUMNS],
                      _phases(row.get("phases") or {}, row.get("reused_phases") or [])])
    shown = [c for c in PRIVACY_COLUMNS if any(c[1] in (row.get("metrics") or {}) for row in rows)]
    privacy = [[str(row.get("id", "")), row["method"],
                *[_fmt((row.get("metrics") or {}).get(m), f) + (REUSED_MARK if f == "speedup" and speedup_reused(row)
                                                               else "") for _, m, f in shown]] for row in rows]
    out = _grid(header, lines) + [""] + _grid(["id", "method", *[h for h, _, _ in shown]], privacy)
    notes = ["accuracies in %; MIA scores and distances are best when closest to the retrain row"]
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


FORMATS = {"table": format_table, "json": format_json, "csv": format_csv}
