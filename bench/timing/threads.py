"""CPU thread policy: how OpenMP threads wait (chosen from the contention measured at start), how many threads each
built-in (dataset, model) runs with, and how many each cell gets on a machine that others are using.

Imported by the package's `__init__` before anything loads torch, because GNU OpenMP reads its wait policy once,
when torch loads it.
"""
from __future__ import annotations

import os
import sys
from typing import Optional

from unlearnbench.timing.contention import BUSY_CORES, other_busy_cores

WAIT_POLICY_ENV = "OMP_WAIT_POLICY"
SPIN_ENV = "GOMP_SPINCOUNT"
# ACTIVE alone spins forever, so a thread team hogs a core while the process does other work (scikit-learn's attacks,
# subprocesses): the default test set used 3 min 52 s of CPU instead of 2 min 0 s. Spinning 300,000 iterations (GNU
# OpenMP's own default when no policy is set) and then sleeping kept ACTIVE's speed: MNIST/mlp unsir 0.309 s against
# 0.299 s, a whole `run` of four methods 17.7 s against 17.8 s (PASSIVE: 0.562 s and 21.3 s).
ACTIVE_SPINS = "300000"
SAMPLE_SECONDS = 0.1  # how long the start-up sample watches the machine (once per process, before torch loads)
CELL_SAMPLE_SECONDS = 0.05  # the same before each cell, outside its timed span


def choose_wait_policy(other_cores: Optional[float]) -> str:
    """ACTIVE on an idle machine, PASSIVE where other processes keep at least BUSY_CORES busy (or it is unknown).

    Measured on this project's 2-core AMD EPYC (MNIST/mlp unsir, `unlearnbench bench --repeat 3`; docs/speed.md):
    idle, spinning OpenMP threads (ACTIVE) ran it in 0.31 s against 0.56 s sleeping ones (PASSIVE); beside one
    busy process ACTIVE with two threads took 1.23 s (every barrier waits for a descheduled spinner) against
    0.55-0.68 s passive, and one thread 0.51-0.55 s either way.
    """
    return "ACTIVE" if other_cores is not None and other_cores < BUSY_CORES else "PASSIVE"


def configure_openmp() -> str:
    """Sets GNU OpenMP's wait policy from the contention measured now, unless the user chose one; returns what is in
    force and why ('ACTIVE (idle at start)', 'PASSIVE (busy at start)', 'PASSIVE (set by the user)')."""
    if "torch" in sys.modules:  # libgomp has read its environment already: say so instead of pretending
        return os.environ.get(WAIT_POLICY_ENV, "default") + " (torch was imported before unlearnbench)"
    if WAIT_POLICY_ENV in os.environ:
        return f"{os.environ[WAIT_POLICY_ENV]} (set by the user)"
    policy = choose_wait_policy(other_busy_cores(SAMPLE_SECONDS))
    os.environ[WAIT_POLICY_ENV] = policy
    if policy == "ACTIVE":
        os.environ.setdefault(SPIN_ENV, ACTIVE_SPINS)
        return f"ACTIVE, {SPIN_ENV}={os.environ[SPIN_ENV]} (idle at start)"
    return "PASSIVE (busy at start)"


WAIT_POLICY = configure_openmp()


def threads_now(chosen: int) -> int:
    """`chosen` less the cores other processes keep busy right now (a CELL_SAMPLE_SECONDS sample)."""
    return cell_threads(chosen, other_busy_cores(CELL_SAMPLE_SECONDS), os.cpu_count() or chosen)


def cell_threads(chosen: int, other_cores: Optional[float], cores: int) -> int:
    """Threads for one cell: `chosen`, less the cores other processes keep busy right now (at least one).

    A thread that must share its core with another process makes every parallel region wait for it: beside one
    busy process on 2 cores, one thread ran MNIST/mlp unsir in 0.51-0.55 s against 0.68-1.23 s for two."""
    if other_cores is None:
        return chosen
    return max(1, min(chosen, cores - int(other_cores + 0.5)))


# Settings whose steps are too small to share among threads: one thread was faster than two on every workload
# (unsir, a finetune epoch, a training epoch), idle (0.76-0.94x for two) and beside a busy process (0.69-0.77x).
# Every other built-in pair measured was 1.2-1.8x faster idle with two threads (mnist/mlp, mnist/cnn, digits/cnn's
# unsir, digits/resnet18, digits/allcnn), so it keeps every thread torch has. Table and command: docs/speed.md.
SINGLE_THREADED: frozenset[tuple[str, str]] = frozenset({("digits", "mlp")})


def cpu_threads(dataset: str, model: str, available: int) -> int:
    """Threads to run a (dataset, model) setting with on the CPU: the measured choice, out of `available`."""
    return 1 if (dataset, model) in SINGLE_THREADED else available
