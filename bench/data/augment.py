"""Batched training augmentations that run on the data's device, drawing from a given generator."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from unlearnbench.core.registry import Registry

Augment = Callable[[Tensor, torch.Generator], Tensor]
AUGMENTATIONS: Registry[Augment] = Registry("augmentation")

CROP_PAD = 4  # pixels of zero padding before the random crop (the usual CIFAR recipe)


@AUGMENTATIONS.register("crop_flip")
def crop_flip(x: Tensor, generator: torch.Generator) -> Tensor:
    """Random crop after zero padding plus random horizontal flip, one draw per image."""
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (CROP_PAD,) * 4)
    shifts = torch.randint(0, 2 * CROP_PAD + 1, (2, n), generator=generator, device=x.device)
    rows = shifts[0, :, None] + torch.arange(h, device=x.device)  # (n, h)
    cols = shifts[1, :, None] + torch.arange(w, device=x.device)  # (n, w)
    flip = torch.rand(n, generator=generator, device=x.device) < 0.5
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    batch = torch.arange(n, device=x.device)[:, None, None]
    # Advanced indexing puts the indexed dims first: (n, h, w, c) -> back to (n, c, h, w).
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()
