"""l1-sparse: cross-entropy plus an l1 weight that decays linearly from alpha to zero."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import unlearnbench.methods.l1_sparse as l1_module
from helpers import context, spy_on_training, tiny_setting
from unlearnbench.methods.l1_sparse import L1Sparse, l1_norm


def test_each_epochs_loss_adds_alpha_times_one_minus_e_over_epochs_times_the_l1_norm(tmp_path, monkeypatch):
    setting = tiny_setting(tmp_path)

    def penalty_weight(model, x, y, loss_fn, **_):
        logits = model(x[:4])
        return ((loss_fn(logits, y[:4], x[:4]) - F.cross_entropy(logits, y[:4])) / l1_norm(model)).item()

    seen = spy_on_training(monkeypatch, l1_module, penalty_weight)
    method = L1Sparse.from_params({"alpha": "0.01", "epochs": "4"})
    method.unlearn(setting.trained("original").model, context(setting, method.access, "l1_sparse"))
    assert seen == pytest.approx([0.01, 0.0075, 0.005, 0.0025], rel=1e-4)


def test_l1_norm_sums_absolute_values_of_every_parameter():
    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0]]))
        model.bias.fill_(-3.0)
    assert l1_norm(model).item() == 6.0
