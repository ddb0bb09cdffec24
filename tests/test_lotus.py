"""LoTUS: Gumbel targets (soft and hot on forget rows, one-hot on retain rows), seeded, and its stopping rule."""
from __future__ import annotations

import math

import pytest
import torch

from helpers import TINY_CLASSES, context, forget_train_fit, tiny_setting
from unlearnbench.methods.lotus import LoTUS, gumbel_targets, soft_cross_entropy


def test_retain_rows_get_one_hot_targets_and_forget_rows_soft_ones():
    logits = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    forget = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    target = gumbel_targets(logits, forget, 5.0, torch.Generator().manual_seed(1))
    assert torch.allclose(target.sum(1), torch.ones(6))
    assert ((target[3:] == 0) | (target[3:] == 1)).all()
    assert (target[:3] > 0).all() and (target[:3] < 1).all()


def test_a_hot_temperature_makes_forget_targets_near_uniform():
    logits = torch.tensor([[10.0, 0.0, 0.0, 0.0]])
    target = gumbel_targets(logits, torch.ones(1), 1e4, torch.Generator().manual_seed(0))
    assert torch.allclose(target, torch.full((1, 4), 0.25), atol=1e-3)


def test_the_draws_come_from_the_given_generator():
    logits = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    marks = torch.tensor([1.0, 0, 1, 0, 1])
    first, second = (gumbel_targets(logits, marks, 2.0, torch.Generator().manual_seed(7)) for _ in range(2))
    assert torch.equal(first, second)


def test_the_loss_is_the_batch_mean_soft_cross_entropy():
    logits, target = torch.zeros(2, 4), torch.tensor([[1.0, 0, 0, 0], [0.5, 0.5, 0, 0]])
    assert soft_cross_entropy(logits, target).item() == pytest.approx(torch.log(torch.tensor(4.0)).item())


def test_random_forgetting_stops_once_forget_accuracy_is_below_the_teachers_validation_accuracy(tmp_path):
    setting = tiny_setting(tmp_path, forget="random:0.2", val_fraction="0.2")
    ctx = context(setting, LoTUS.access, "lotus")
    LoTUS.from_params({"lr": "0.05"}).unlearn(setting.trained("original").model, ctx)
    assert 1 <= ctx.logged["lotus_epochs"] < LoTUS.Config().epochs


def test_class_wise_forgetting_never_stops_early(tmp_path):
    setting = tiny_setting(tmp_path, val_fraction="0.2")
    ctx = context(setting, LoTUS.access, "lotus")
    LoTUS.from_params({"epochs": "3"}).unlearn(setting.trained("original").model, ctx)
    assert ctx.logged["lotus_epochs"] == 3


def test_class_wise_lotus_pushes_forget_predictions_towards_uniform(tmp_path):
    setting = tiny_setting(tmp_path, val_fraction="0.2")
    ctx = context(setting, LoTUS.access, "lotus")
    # AdamW lr 0.01: the reference's 1e-4 barely moves the tiny model.
    model = LoTUS.from_params({"lr": "0.01"}).unlearn(setting.trained("original").model, ctx)
    _, loss = forget_train_fit(model, setting)
    # Hot soft targets pull the forget rows' loss towards the uniform prediction's ln 4 (the original's: 0.015).
    assert loss > 0.7 * math.log(TINY_CLASSES)
