"""The CPU thread policy: the OpenMP wait policy chosen from contention at start, threads per cell under load."""
from __future__ import annotations

import os
import subprocess
import sys

from helpers import TINY_RECIPE
from unlearnbench.timing.threads import cell_threads, choose_wait_policy


def test_an_idle_machine_gets_spinning_threads_and_a_busy_or_unknown_one_sleeping_threads():
    assert choose_wait_policy(0.0) == "ACTIVE"
    assert choose_wait_policy(0.49) == "ACTIVE"
    assert choose_wait_policy(0.5) == "PASSIVE"  # at least half a core used by others: busy
    assert choose_wait_policy(None) == "PASSIVE"  # no /proc/stat: the safe choice


def test_a_cell_gives_up_the_cores_others_are_using_and_keeps_at_least_one():
    assert cell_threads(2, 0.0, 2) == 2
    assert cell_threads(2, 1.0, 2) == 1
    assert cell_threads(2, 0.6, 2) == 1  # more than half a core taken: that core is shared
    assert cell_threads(2, 3.0, 2) == 1
    assert cell_threads(8, 2.2, 16) == 8  # cores to spare: nothing to give up
    assert cell_threads(2, None, 2) == 2


def test_a_wait_policy_the_user_set_is_kept_and_said_so():
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    out = subprocess.run([sys.executable, "-c", "import unlearnbench.timing.threads as t; print(t.WAIT_POLICY)"], env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "PASSIVE (set by the user)"


def test_without_a_user_choice_the_policy_is_measured_and_named():
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    code = "import os, unlearnbench.timing.threads as t; print(t.WAIT_POLICY + '|' + os.environ['OMP_WAIT_POLICY'])"
    said, chosen = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                  check=True).stdout.strip().split("|")
    assert said in ("ACTIVE, GOMP_SPINCOUNT=300000 (idle at start)", "PASSIVE (busy at start)")
    assert said.startswith(chosen)


def test_every_row_records_the_threads_its_cell_ran_with(tmp_path):
    from unlearnbench.execution.runner import RunRequest, run
    from unlearnbench.execution.store import open_store

    request = RunRequest(dataset="tiny", methods=("original", "retrain"), device="cpu", cache_dir=tmp_path / "c",
                         recipe=TINY_RECIPE)
    rows = run(request, open_store(tmp_path / "out"))
    assert all(r["env"]["cell_threads"] >= 1 and r["env"]["omp_wait_policy"] for r in rows)


def test_an_explicit_thread_count_is_never_changed_per_cell(tmp_path):
    from unlearnbench.execution.runner import RunRequest, run
    from unlearnbench.execution.store import open_store

    request = RunRequest(dataset="tiny", methods=("original",), device="cpu", cache_dir=tmp_path / "c",
                         recipe=TINY_RECIPE, threads=1)
    (row,) = run(request, open_store(tmp_path / "out"))
    assert row["env"]["cell_threads"] == 1
