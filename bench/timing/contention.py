"""How busy the machine was around a timed span: load averages and the CPU that other processes used meanwhile."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Optional

BUSY_CORES = 0.5  # other processes used at least half a core on average during the span: its seconds are suspect
_PROC_STAT = Path("/proc/stat")
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user, nice, system, irq, softirq, steal of /proc/stat's "cpu" line


def _machine_cpu_seconds() -> Optional[float]:
    """CPU seconds every process on the machine has used since boot (Linux), or None."""
    try:
        fields = _PROC_STAT.read_text().split("\n", 1)[0].split()[1:]
        return sum(int(fields[i]) for i in _BUSY_FIELDS) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system  # every thread of this process


def _load_average() -> Optional[float]:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


class LoadWatch:
    """Started before a timed span, finished after it: what else the machine was doing meanwhile."""

    def __init__(self) -> None:
        self._load = _load_average()
        self._machine = _machine_cpu_seconds()
        self._own = _own_cpu_seconds()
        self._start = time.perf_counter()

    def finish(self) -> dict[str, Any]:
        """{loadavg_before, loadavg_after, other_cpu_cores, busy}: 1-minute load averages (which count this
        process too) and the cores other processes kept busy on average during the span (None off Linux)."""
        wall = time.perf_counter() - self._start
        machine = _machine_cpu_seconds()
        other = None
        if machine is not None and self._machine is not None and wall > 0:
            used = (machine - self._machine) - (_own_cpu_seconds() - self._own)
            other = round(max(0.0, used / wall), 2)
        return {"loadavg_before": self._load, "loadavg_after": _load_average(), "other_cpu_cores": other,
                "busy": other is not None and other >= BUSY_CORES}


def other_busy_cores(window: float) -> Optional[float]:
    """The cores other processes keep busy, sampled over `window` seconds of this process sleeping (None off Linux)."""
    watch = LoadWatch()
    time.sleep(window)
    return watch.finish()["other_cpu_cores"]


def busy_note(rows: list[dict[str, Any]]) -> Optional[str]:
    """A warning naming the cells timed while other processes used the CPU, or None."""
    busy = [r for r in rows if ((r.get("env") or {}).get("load") or {}).get("busy")]
    if not busy:
        return None
    cores = max(r["env"]["load"]["other_cpu_cores"] for r in busy)
    names = ", ".join(sorted({f"{r['method']} (seed {r['seed']})" for r in busy}))
    return (f"busy machine: other processes used up to {cores:.2f} cores while {len(busy)} cell(s) ran "
            f"[{names}]; their seconds and speedups are inflated: rerun them on an idle machine")
