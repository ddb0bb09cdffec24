"""Stored rows as flat records: the public JSON/CSV shape of a result."""
from __future__ import annotations

import json
import math
from typing import Any

PUBLIC_FIELDS = ("id", "run_id", "created", "dataset", "model", "forget", "seed", "method", "method_version",
                 "params", "access", "status", "error", "time_s", "phases", "reused_phases", "peak_mem_bytes",
                 "metrics", "recipe", "env", "cell_key", "tuned", "role", "scenarios", "definitions")


def _finite(value: Any) -> Any:
    """NaN/inf become None so the output is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def method_label(row: dict[str, Any]) -> str:
    """The method's name, marked when it ran with tuned parameters."""
    return f"{row['method']} (tuned)" if row.get("tuned") else row["method"]


def public_row(row: dict[str, Any]) -> dict[str, Any]:
    """The documented fields of a stored row, JSON-safe."""
    return {name: _finite(row.get(name)) for name in PUBLIC_FIELDS}


def flat_row(row: dict[str, Any]) -> dict[str, Any]:
    """One level deep: phases as phase_<name>, metrics by name, forget as '0,2', for CSV."""
    out: dict[str, Any] = {}
    for name, value in public_row(row).items():
        if name == "phases":
            out.update({f"phase_{k}": v for k, v in (value or {}).items()})
        elif name == "metrics":
            out.update(value or {})
        elif name == "forget":
            out[name] = ",".join(str(c) for c in value)
        elif name in ("env", "recipe", "params", "access", "reused_phases", "scenarios"):
            out[name] = json.dumps(value, sort_keys=True)
        elif name == "tuned":  # the provenance of tuned parameters; empty for default rows
            out[name] = json.dumps(value, sort_keys=True) if value else ""
        else:
            out[name] = value
    return out

