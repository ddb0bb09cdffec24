"""The phase timer, on a fake clock: phases, excluded spans and reused measurements."""
from __future__ import annotations

import pytest
import torch

from unlearnbench.timing import timer as timing
from unlearnbench.timing.timer import PhaseTimer


@pytest.fixture
def clock(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(timing.time, "perf_counter", lambda: now[0])
    return now


def test_phases_and_total(clock):
    timer = PhaseTimer(torch.device("cpu"))
    timer.start()
    with timer.phase("noise"):
        clock[0] += 2.0
    with timer.phase("impair"):
        clock[0] += 1.0
    clock[0] += 0.5
    assert timer.stop() == 3.5
    assert timer.phases == {"noise": 2.0, "impair": 1.0}


def test_excluded_span_leaves_phase_and_total(clock):
    timer = PhaseTimer(torch.device("cpu"))
    timer.start()
    with timer.phase("impair"):
        clock[0] += 1.0
        with timer.excluded():
            clock[0] += 10.0
    assert timer.stop() == 1.0 and timer.phases["impair"] == 1.0


def test_recorded_seconds_replace_wall_time(clock):
    timer = PhaseTimer(torch.device("cpu"))
    timer.start()
    with timer.excluded():
        clock[0] += 0.3  # loading from the cache
    timer.record("train", 42.0, reused_from={"device": "cpu"})
    assert timer.stop() == 42.0 and timer.reused == {"train": {"device": "cpu"}}


def test_peak_memory_is_positive_after_an_allocation(device):
    timing.reset_peak_memory(torch.device(device))
    kept = torch.ones(1 << 20, device=device)
    assert timing.peak_memory_bytes(torch.device(device)) >= kept.numel() * kept.element_size()


def test_phases_wait_for_the_device_work_they_queued(device, clock, monkeypatch):
    # A phase must end after its queued device work: the timer synchronises at each boundary.
    synced = []
    monkeypatch.setattr(timing, "synchronize", lambda d: synced.append(clock[0]))
    timer = PhaseTimer(torch.device(device))
    timer.start()
    with timer.phase("noise"):
        clock[0] += 1.0
    timer.stop()
    assert 1.0 in synced
