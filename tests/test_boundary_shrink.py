"""Boundary Shrink: FGSM neighbours are valid images one epsilon away, and the attack's success is stored."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import cell_row, tiny_setting
from unlearnbench.methods.boundary_shrink import BoundaryShrink, fgsm_neighbour


def test_the_neighbour_is_a_valid_8_bit_image_at_most_epsilon_away_in_pixels():
    teacher = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    mean, std = torch.tensor(0.5).view(1, 1, 1, 1), torch.tensor(0.25).view(1, 1, 1, 1)
    pixels = torch.rand(6, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    x = (pixels - mean) / std
    moved = fgsm_neighbour(teacher, x, torch.tensor([0, 1, 2, 0, 1, 2]), 0.1, mean, std) * std + mean
    assert moved.min() >= 0 and moved.max() <= 1
    assert torch.allclose(moved * 255, (moved * 255).round(), atol=1e-4)
    assert (moved - pixels).abs().max() <= 0.1 + 1 / 255


@pytest.mark.parametrize("epsilon,success", [
    ("0.001", 0.0),  # under half a grey level: the rounded neighbour is the image, which the original classifies
    ("1.0", 1.0),  # a step across the pixel range: every forget neighbour lands in another class here
])
def test_the_attack_success_rate_is_stored_with_the_cell(tmp_path, epsilon, success):
    row = cell_row(tiny_setting(tmp_path), BoundaryShrink.from_params({"epochs": "1", "epsilon": epsilon}))
    assert row["metrics"]["bs_attack_success"] == success
