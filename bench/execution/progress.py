"""Sweep progress: a line per finished cell and an overall count with an ETA."""
from __future__ import annotations

import time
from typing import Any, Callable, Optional


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


class SweepProgress:
    """Counts finished cells and estimates the time left from the average so far."""

    def __init__(self, total: int, emit: Optional[Callable[[str], None]]) -> None:
        self.total = total
        self.done = 0
        self._emit = emit
        self._start = time.perf_counter()

    def bar(self, width: int = 24) -> str:
        """e.g. '[#####-----] 12/40 cells, 1m10s elapsed, ETA 3m05s'."""
        elapsed = time.perf_counter() - self._start
        filled = int(width * self.done / self.total) if self.total else width
        eta = elapsed / self.done * (self.total - self.done) if self.done else None
        tail = f", ETA {_duration(eta)}" if eta is not None and self.done < self.total else ""
        return f"[{'#' * filled}{'-' * (width - filled)}] {self.done}/{self.total} cells, {_duration(elapsed)} elapsed{tail}"

    def started(self, label: str) -> None:
        """Reports that a group of cells began running."""
        if self._emit:
            self._emit(f"running {label}")

    def cell_done(self, row: dict[str, Any]) -> None:
        """Reports one finished cell and the overall bar."""
        self.done += 1
        if self._emit is None:
            return
        forget = ",".join(map(str, row["forget"]))
        outcome = f"{row['time_s']:.3f} s" if row["status"] == "ok" else f"FAILED: {row['error']}"
        self._emit(f"{row['dataset']}/{row['model']} forget {forget} seed {row['seed']} {row['method']}: {outcome}")
        self._emit(self.bar())
