"""Batched crop + flip: shape kept, reproducible per generator, each output a shifted/mirrored input."""
from __future__ import annotations

import torch

from unlearnbench.data.augment import CROP_PAD, crop_flip


def _candidates(image: torch.Tensor) -> list[torch.Tensor]:
    padded = torch.nn.functional.pad(image, (CROP_PAD,) * 4)
    h, w = image.shape[1:]
    out = []
    for dy in range(2 * CROP_PAD + 1):
        for dx in range(2 * CROP_PAD + 1):
            crop = padded[:, dy:dy + h, dx:dx + w]
            out += [crop, crop.flip(2)]
    return out


def test_output_is_a_translated_or_mirrored_copy_of_its_input():
    x = torch.randn(6, 3, 8, 8)
    y = crop_flip(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    for img, aug in zip(x, y):
        assert any(torch.equal(aug, c) for c in _candidates(img))


def test_same_generator_seed_gives_the_same_batch():
    x = torch.randn(16, 1, 8, 8)
    a = crop_flip(x, torch.Generator().manual_seed(3))
    b = crop_flip(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, x)
