"""Independent random streams derived from one run seed: one per model, per purpose.

The original's and the retrained model's initialisation and batch order, the independent retrain (the noise
floor), the method's randomness, fresh initialisations a method asks for, and evaluation subsamples each draw from
their own stream, so no two of them share a start by accident (issue 25: the original and the retrained model
used to start from the same weights, which favoured methods that stay near the original).
"""
from __future__ import annotations

import hashlib
import re

# Bump when the derivation or the stream names change: it is part of every cached model's key.
STREAMS_VERSION = 1
STREAMS = ("original.init", "original.order", "retrain.init", "retrain.order", "retrain_independent.init",
           "retrain_independent.order", "method", "random_init", "evaluation", "warm_up")


def derive_seed(seed: int, stream: str) -> int:
    """A 32-bit seed for `stream` of run seed `seed` (fits NumPy's and torch's generators alike); a population
    member's stream ("retrain@3.init", "method@3") is its own, named after a known one."""
    if re.sub(r"@\d+", "", stream) not in STREAMS:
        raise ValueError(f"unknown seed stream {stream!r}; known: {', '.join(STREAMS)} (members: name@i)")
    digest = hashlib.sha256(f"unlearnbench/{seed}/{stream}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def tuning_seeds(first: int, count: int) -> list[int]:
    """The run seeds of the settings a tuning trial is scored on: the tuning seed and the `count - 1` after it."""
    return [first + i for i in range(count)]
