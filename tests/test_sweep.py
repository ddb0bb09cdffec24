"""Sweeps: idempotent resume, retries, a kill -9 in the middle, and the process-pool and Ray backends."""
from __future__ import annotations

import collections
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from unlearnbench.execution.store import open_store
from unlearnbench.execution.suite import load_suite
from unlearnbench.execution.sweep import sweep

SUITE = """
    name = "t"
    device = "cpu"
    [grid]
    datasets = ["digits"]
    models = ["mlp"]
    forget = [[0], "random:0.1", "partial:0@0.5", "subclass:0"]  # every scenario
    seeds = [0]
    [recipe]
    epochs = 3
    [methods]
    original = {}
    retrain = {}
    gradient_ascent = { lr = [1e-4, 1000.0], epochs = 20 }
"""


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("suite") / "t.toml"
    path.write_text(textwrap.dedent(SUITE))
    return path


@pytest.fixture(scope="module")
def local_sweep(suite_file, tmp_path_factory):
    """One local sweep of the suite, run once per module: (summary, rows, out dir, model cache)."""
    root = tmp_path_factory.mktemp("local")
    summary, rows = _sweep(suite_file, root / "o", root / "c")
    return summary, rows, root / "o", root / "c"


def _copy_of(out, tmp_path):
    """A private copy of a stored sweep's out dir, for a test that goes on sweeping into it."""
    return Path(shutil.copytree(out, tmp_path / "o"))


def _sweep(suite_file, out, cache, **kwargs):
    store = open_store(out)
    try:
        return sweep(load_suite(str(suite_file), cache_dir=cache), store, **kwargs), store.rows()
    finally:
        store.close()


def test_second_sweep_skips_everything_stored(suite_file, local_sweep, tmp_path):
    first, _, out, cache = local_sweep
    assert first.cells == 16 and first.ran == 16 and first.failed == 4  # lr=1000 diverges on every setting
    again, rows_again = _sweep(suite_file, _copy_of(out, tmp_path), cache)
    assert again.ran == 0 and again.skipped_ok == 12 and again.skipped_failed == 4 and len(rows_again) == 16


def test_retry_failed_reruns_only_failed_cells_and_rerun_reruns_all(suite_file, local_sweep, tmp_path):
    _, _, stored, cache = local_sweep
    out = _copy_of(stored, tmp_path)
    retried, _ = _sweep(suite_file, out, cache, retry_failed=True)
    assert retried.ran == 4 and retried.skipped_ok == 12
    everything, rows = _sweep(suite_file, out, cache, rerun=True)
    assert everything.ran == 16 and len(rows) == 36


def test_kill_minus_9_then_resume_completes_without_duplicates_or_losses(suite_file, tmp_path):
    out, cache = tmp_path / "o", tmp_path / "c"
    command = [sys.executable, "-m", "unlearnbench.cli", "sweep", str(suite_file), "--out", str(out),
               "--cache-dir", str(cache), "--quiet"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stored = 0
    deadline = time.time() + 120
    while stored < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if (out / "results.db").exists():
            try:
                stored = sqlite3.connect(out / "results.db").execute("SELECT COUNT(*) FROM cells").fetchone()[0]
            except sqlite3.OperationalError:
                stored = 0
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 3 <= stored < 16, "the sweep should be killed part-way"
    summary, rows = _sweep(suite_file, out, cache, retry_failed=False)
    keys = collections.Counter(r["cell_key"] for r in rows)
    assert len(keys) == 16 and max(keys.values()) == 1  # every cell once: none lost, none duplicated
    assert summary.skipped_ok + summary.skipped_failed + summary.ran == 16


def _by_key(rows):
    return {r["cell_key"]: r for r in rows}


def _same_rows(a, b):
    assert set(a) == set(b)
    for key, row in a.items():
        other = b[key]
        assert (row["method"], row["status"], row["params"]) == (other["method"], other["status"], other["params"])
        for name, value in row["metrics"].items():
            if name != "speedup_vs_retrain" and isinstance(value, float) and math.isfinite(value):
                assert other["metrics"][name] == pytest.approx(value, abs=1e-3), name


@pytest.mark.slow  # two spawned workers each import torch and scikit-learn: about 10 s on 2 cores
def test_process_pool_gives_the_same_rows(suite_file, local_sweep, tmp_path):
    _, local, _, cache = local_sweep
    _, pooled = _sweep(suite_file, tmp_path / "b", cache, workers=2)
    _same_rows(_by_key(local), _by_key(pooled))


@pytest.mark.slow  # starting a local Ray cluster takes about 10 s on 2 cores
def test_ray_backend_gives_the_same_rows_as_local(suite_file, local_sweep, tmp_path):
    pytest.importorskip("ray", reason="Ray is optional: pip install 'unlearnbench[ray]'")
    _, local, _, cache = local_sweep
    _, remote = _sweep(suite_file, tmp_path / "b", cache, backend="ray", workers=2)
    _same_rows(_by_key(local), _by_key(remote))
