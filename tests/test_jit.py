"""JiT: the Lipschitz penalty, from forget inputs alone."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import cell_row, tiny_setting
from unlearnbench.methods.jit import JiT, lipschitz_loss


def _scaled_identity(dim: int, scale: float) -> nn.Module:
    layer = nn.Linear(dim, dim, bias=False)
    with torch.no_grad():
        layer.weight.copy_(scale * torch.eye(dim))
    return nn.Sequential(nn.Flatten(), layer)


def test_the_penalty_of_a_map_that_scales_by_three_is_three_per_sample():
    x = torch.rand(5, 1, 2, 2)
    loss = lipschitz_loss(_scaled_identity(4, 3.0), x, 0.5, 7, torch.Generator().manual_seed(0))
    assert loss.item() == pytest.approx(3.0 * 5, rel=1e-5)


def test_a_constant_model_has_no_penalty():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    with torch.no_grad():
        model[1].weight.zero_()
    assert lipschitz_loss(model, torch.rand(4, 1, 2, 2), 0.5, 3, torch.Generator().manual_seed(0)).item() == 0


def test_noisy_copies_stay_within_the_batchs_value_range():
    seen = []
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    model.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    x = torch.rand(6, 1, 2, 2)
    lipschitz_loss(model, x, 10.0, 4, torch.Generator().manual_seed(0))
    assert all(s.min() >= x.min() and s.max() <= x.max() for s in seen)


def test_jit_reads_forget_inputs_only_and_forgets_the_class_on_a_cell(tmp_path):
    assert JiT.access == {"forget_inputs"}
    # SGD lr 0.01: the reference's 3e-4 barely moves the tiny model.
    row = cell_row(tiny_setting(tmp_path), JiT.from_params({"lr": "0.01"}))
    assert row["metrics"]["acc_forget_test"] < 0.5 and row["metrics"]["acc_retain_test"] > 0.9
