"""Wall-clock timing of a method with device synchronisation at phase ends, and peak memory."""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import resource
import torch

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def synchronize(device: torch.device) -> None:
    """Waits for queued work on `device` (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    """Starts a new peak-memory window: CUDA allocator peak, or the process's RSS high-water mark."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:
        _CLEAR_REFS.write_text("5")  # Linux: "5" resets VmHWM, the peak resident set size
    except OSError:
        pass


def peak_memory_bytes(device: torch.device) -> int:
    """Peak bytes since the last reset: CUDA allocated memory, or process peak RSS on the CPU."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class PhaseTimer:
    """Seconds per named phase and in total, with excluded spans (evaluation) subtracted."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.phases: dict[str, float] = {}
        self.reused: dict[str, dict[str, Any]] = {}  # phase -> where its earlier measurement was taken
        self._excluded = 0.0
        self._recorded = 0.0
        self._start: Optional[float] = None
        self.total: Optional[float] = None

    def start(self) -> None:
        """Starts the total clock and the peak-memory window."""
        synchronize(self.device)
        reset_peak_memory(self.device)
        self._start = time.perf_counter()

    def stop(self) -> float:
        """Stops the total clock; returns measured seconds minus excluded spans plus recorded phases."""
        synchronize(self.device)
        if self._start is None:
            raise RuntimeError("PhaseTimer.stop() called before start()")
        self.total = time.perf_counter() - self._start - self._excluded + self._recorded
        return self.total

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Times the enclosed block as phase `name` (accumulating if repeated)."""
        synchronize(self.device)
        t0, excluded0 = time.perf_counter(), self._excluded
        try:
            yield
        finally:
            synchronize(self.device)
            spent = time.perf_counter() - t0 - (self._excluded - excluded0)
            self.phases[name] = self.phases.get(name, 0.0) + spent

    @contextmanager
    def excluded(self) -> Iterator[None]:
        """Leaves the enclosed block out of every phase and the total."""
        synchronize(self.device)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            synchronize(self.device)
            self._excluded += time.perf_counter() - t0

    def record(self, name: str, seconds: float, reused_from: Optional[dict[str, Any]] = None) -> None:
        """Books `seconds` measured elsewhere as phase `name`; `reused_from` describes an earlier run's measurement
        (device, threads, load, date) when the seconds were not measured in this run."""
        self.phases[name] = self.phases.get(name, 0.0) + seconds
        if reused_from is not None:
            self.reused[name] = reused_from
        self._recorded += seconds
