"""Stored rows read as their own definitions say, and every gap computed from their raw values at render time.

A row names the method's role and scenarios as declared when it ran and the version of the metric definitions its
values follow; rows stored before those existed read the live registry's role and scenarios and definitions 1.
Gaps are never read from storage: each ok row is scored against the retrained row of the same setting, seed,
device kind and definitions, with the yardstick asked for (metrics/yardstick.py).
"""
from __future__ import annotations

import json
from typing import Any, Sequence

from unlearnbench.core.method import role_of, supports
from unlearnbench.data.forget import ForgetSpec
from unlearnbench.metrics import VALUES, YARDSTICKS, Yardstick
from unlearnbench.metrics.base import BAR_UNITS

LEGACY_DEFINITIONS = 1  # rows stored without a definitions version
# Every value a yardstick derives (retrain_gap included, which rows stored before yardsticks hold): stripped before
# scoring, so a number computed under another definition is never shown.
DERIVED = frozenset(n for y in YARDSTICKS.values() for n in y.values)


def row_role(row: dict[str, Any]) -> str:
    """The method's role when the row ran (the registry's for rows stored before roles were)."""
    return row.get("role") or role_of(row["method"])


def row_supports(row: dict[str, Any], scenario: str) -> bool:
    """Whether the row's method declared `scenario` when it ran (the registry's answer for older rows)."""
    declared = row.get("scenarios")
    return scenario in declared if declared is not None else supports(row["method"], scenario)


def row_definitions(row: dict[str, Any]) -> int:
    """The version of the metric definitions the row's values follow."""
    return row.get("definitions") or LEGACY_DEFINITIONS


def device_kind(row: dict[str, Any]) -> str:
    """cpu or cuda: the kind of device the row ran on ('' where not recorded)."""
    return str((row.get("env") or {}).get("device", "")).split(":")[0]


def identity(dataset: str, model: str, forget: Sequence[Any], recipe: dict[str, Any], device: str,
             definitions: int) -> tuple:
    """What rows that are compared with one another share: dataset, model, forget spec, recipe (canonical JSON),
    device kind and definitions version."""
    return dataset, model, tuple(forget), json.dumps(recipe, sort_keys=True), device, definitions


def setting_key(row: dict[str, Any]) -> tuple:
    """The identity of the setting a stored row belongs to."""
    return identity(row["dataset"], row["model"], row["forget"], row.get("recipe") or {}, device_kind(row),
                    row_definitions(row))


def _scenario(row: dict[str, Any]) -> str:
    return ForgetSpec.from_stored(row["forget"]).scenario


def with_gaps(rows: Sequence[dict[str, Any]], gap: Yardstick) -> list[dict[str, Any]]:
    """Copies of `rows` whose metrics hold `gap`'s values against the newest retrained row of the same setting and
    seed (none where there is no such row), and no stored gap of any definition."""
    references: dict[tuple, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r.get("id") or 0):
        if row["status"] == "ok" and row_role(row) == "reference":
            references[(*setting_key(row), row["seed"])] = row
    out = []
    for row in rows:
        metrics = {k: v for k, v in (row.get("metrics") or {}).items() if k not in DERIVED}
        reference = references.get((*setting_key(row), row["seed"]))
        if row["status"] == "ok" and reference is not None:
            metrics.update(gap.score(metrics, reference["metrics"], _scenario(row)))
        out.append({**row, "metrics": metrics})
    return out


def bounds_of(name: str) -> tuple[float, float] | None:
    """(0, 1) for a value declared as a fraction (percent, rate); None for an unbounded one."""
    value = VALUES.get(name)
    return (0.0, 1.0) if value is not None and value.unit in BAR_UNITS else None
