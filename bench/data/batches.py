"""Index batches: shuffled permutations of a split's rows, once or cycled without end."""
from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor


def batches(n: int, batch_size: int, generator: torch.Generator, device: torch.device) -> list[Tensor]:
    """A random permutation of range(n) cut into index batches (the last may be short)."""
    return list(torch.randperm(n, generator=generator, device=device).split(batch_size))


def cycling_batches(n: int, batch_size: int, generator: torch.Generator, device: torch.device) -> Iterator[Tensor]:
    """Index batches of shuffled passes over range(n), reshuffled at every pass, without end (a cycled loader)."""
    while True:
        yield from batches(n, batch_size, generator, device)
