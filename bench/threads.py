"""CPU thread policy: how OpenMP threads wait, and how many threads each built-in (dataset, model) runs with.

Imported by the package's `__init__` before anything loads torch, because GNU OpenMP reads its wait policy once,
when torch loads it.
"""
from __future__ import annotations

import os
import sys

WAIT_POLICY_ENV = "OMP_WAIT_POLICY"


def configure_openmp() -> str:
    """Makes idle OpenMP threads sleep instead of spin, unless the user chose otherwise; returns the policy in force.

    GNU OpenMP (PyTorch's CPU thread pool) spins at every barrier before it sleeps. When another process holds a
    core, every tiny parallel region then waits for a descheduled team member: UNSIR's MNIST/mlp noise phase went
    from 0.12 s to 0.57-0.67 s beside one busy process on 2 cores. Passive waiting kept it at 0.18-0.25 s and costs
    nothing measurable on an idle machine (README, Speed).
    """
    if "torch" in sys.modules:  # libgomp has read its environment already: say so instead of pretending
        return os.environ.get(WAIT_POLICY_ENV, "default") + " (torch was imported before unlearnbench)"
    os.environ.setdefault(WAIT_POLICY_ENV, "PASSIVE")
    return os.environ[WAIT_POLICY_ENV]


WAIT_POLICY = configure_openmp()

# Settings whose steps are too small to share among threads: one thread was faster than two on every workload
# (unsir, a finetune epoch, a training epoch), idle (0.76-0.94x for two) and beside a busy process (0.69-0.77x).
# Every other built-in pair measured was 1.2-1.8x faster idle with two threads (mnist/mlp, mnist/cnn, digits/cnn's
# unsir, digits/resnet18, digits/allcnn), so it keeps every thread torch has. Table and command: README, Speed.
SINGLE_THREADED: frozenset[tuple[str, str]] = frozenset({("digits", "mlp")})


def cpu_threads(dataset: str, model: str, available: int) -> int:
    """Threads to run a (dataset, model) setting with on the CPU: the measured choice, out of `available`."""
    return 1 if (dataset, model) in SINGLE_THREADED else available
