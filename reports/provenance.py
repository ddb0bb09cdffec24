"""Where stored seconds come from: reused cached measurements and busy machines, worded once for every rendering."""
from __future__ import annotations

from typing import Any, Optional, Sequence

from unlearnbench.timing.contention import busy_note

REUSED_MARK = "*"  # beside seconds (and speedups) that rest on a measurement from an earlier run


def time_reused(row: dict[str, Any]) -> bool:
    """True when some of the row's seconds were measured in an earlier run (a cached retrain)."""
    return bool(row.get("reused_phases"))


def speedup_reused(row: dict[str, Any]) -> bool:
    """True when the row's speedup divides by retrain seconds measured in an earlier run."""
    return bool((row.get("env") or {}).get("retrain_seconds_reused_from")) or time_reused(row)


def rests_on_reused(name: str, time_is_reused: bool, speedup_is_reused: bool) -> bool:
    """True when value `name` (seconds or speedup) rests on seconds measured in an earlier run."""
    return (name == "time_s" and time_is_reused) or (name == "speedup_vs_retrain" and speedup_is_reused)


def describe_measurement(measured: dict[str, Any]) -> str:
    """e.g. 'measured 2026-11-26T08:55:01+00:00 on AMD EPYC (cpu), 2 threads, other processes 0.03 cores'."""
    if not measured:
        return "measured before unlearnbench stored where (re-measure to know)"
    load = measured.get("load") or {}
    other = load.get("other_cpu_cores")
    threads = measured.get("torch_threads", "?")
    parts = [f"measured {measured.get('created', '?')} on {measured.get('device_name', '?')} "
             f"({measured.get('device', '?')})", f"{threads} thread{'' if threads == 1 else 's'}"]
    if other is not None:
        parts.append(f"other processes {other:.2f} cores" + (" (busy)" if load.get("busy") else ""))
    return ", ".join(parts)


def _measurements(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Each distinct place the reused seconds of `rows` were measured (rows stored before this was recorded: {})."""
    seen: list[str] = []
    for row in rows:
        env = row.get("env") or {}
        found = [m for m in [*(env.get("reused_measurements") or {}).values(), env.get("retrain_seconds_reused_from")]
                 if m]
        for measured in found or ([{}] if speedup_reused(row) else []):
            text = describe_measurement(measured)
            if text not in seen:
                seen.append(text)
    return seen


def reuse_note(rows: Sequence[dict[str, Any]]) -> Optional[str]:
    """The note explaining reused seconds, with where they were measured, or None when nothing was reused."""
    if not any(speedup_reused(r) for r in rows):
        return None
    return (f"{REUSED_MARK} = seconds reused from the cached retrained model's training "
            f"({'; '.join(_measurements(rows))}); speedups marked {REUSED_MARK} divide by them. "
            "Run with --remeasure-retrain to measure them again here and now")


def provenance_notes(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Every warning about the seconds of `rows`: reused measurements, busy machine."""
    return [note for note in (reuse_note(rows), busy_note(list(rows))) if note]
