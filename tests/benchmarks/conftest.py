"""Benchmarks are deselected from the default run; `pytest -m benchmark tests/benchmarks` runs them.

UNLEARNBENCH_BENCH_SMALLEST=1 keeps only the smallest settings (digits; no MNIST, no busy variant): what CI runs with
`--benchmark-disable`, executing every benchmark body once so that a benchmark that cannot run fails CI.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ helpers
from bench_scope import SMALLEST  # noqa: E402  (beside this file)


def pytest_collection_modifyitems(items):
    for item in items:
        if "benchmarks" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.benchmark)


@pytest.fixture(params=("idle",) if SMALLEST else ("idle", "busy"))
def load(request):
    """'idle', or 'busy': one CPU-bound process spins beside the benchmark, as on a machine doing something else.

    Harness and plain loop run under the same load in one group, so the ratio shows whether the lead survives it.
    Busy, both get the thread count `unlearnbench run` would give a cell started now (unlearnbench.timing.threads).
    """
    if request.param == "idle":
        yield "idle"
        return
    import torch
    from unlearnbench.timing.threads import threads_now

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.2)  # let it take its core before timing starts
    before = torch.get_num_threads()
    torch.set_num_threads(threads_now(before))
    try:
        yield "busy"
    finally:
        torch.set_num_threads(before)
        spinner.kill()
        spinner.wait()
