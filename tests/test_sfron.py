"""SFR-on: the saliency mask, the adaptive forget loss, and Fisher caching keyed by the exact forget set."""
from __future__ import annotations

import pytest
import torch

from helpers import cell_row, context, forget_train_fit, tiny_setting
from unlearnbench.methods.sfron import SFRon, adaptive_cross_entropy, saliency_mask

FAST = {"iterations": "30"}


def test_the_mask_keeps_parameters_more_important_to_forget_than_retain_data():
    forget = {"w": torch.tensor([2.0, 1.0, 0.5, 0.0])}
    retain = {"w": torch.tensor([1.0, 1.0, 1.0, 0.0])}
    assert saliency_mask(forget, retain, 1.0)["w"].tolist() == [1.0, 1.0, 0.0, 1.0]


def test_the_forget_loss_weights_each_sample_by_its_loss_to_the_minus_lambda():
    logits = torch.log(torch.tensor([[0.5, 0.5], [0.9, 0.1]]))
    # Losses ln 2 and ln 10; weights l^-1/2 normalised give (sqrt(l1) + sqrt(l2)) / (1/sqrt(l1) + 1/sqrt(l2)),
    # which is sqrt(l1 * l2) = sqrt(ln 2 * ln 10) = 1.26334 (a plain mean would give 1.49787).
    assert adaptive_cross_entropy(logits, torch.tensor([0, 1]), 0.5).item() == pytest.approx(1.2633410, rel=1e-6)


def _run(setting):
    ctx = context(setting, SFRon.access, "sfron")
    ctx.timer.start()
    SFRon.from_params(FAST).unlearn(setting.trained("original").model, ctx)
    return ctx


def test_a_second_run_reuses_the_fishers_and_books_their_first_seconds(tmp_path):
    first = _run(tiny_setting(tmp_path))
    second = _run(tiny_setting(tmp_path))
    assert "fisher" not in first.timer.reused and "fisher" in second.timer.reused
    assert second.timer.phases["fisher"] == pytest.approx(first.timer.phases["fisher"])


def test_another_forget_set_never_reuses_the_fishers(tmp_path):
    _run(tiny_setting(tmp_path, forget="random:0.2"))
    other = _run(tiny_setting(tmp_path, forget="random:0.3"))
    assert "fisher" not in other.timer.reused


def test_class_forgetting_drops_the_class_and_keeps_the_others(tmp_path):
    row = cell_row(tiny_setting(tmp_path), SFRon.from_params({"iterations": "100"}))
    assert row["metrics"]["acc_forget_test"] < 0.5 and row["metrics"]["acc_retain_test"] > 0.9


def test_random_forgetting_raises_the_forget_rows_loss(tmp_path):
    setting = tiny_setting(tmp_path, forget="random:0.2")
    ctx = context(setting, SFRon.access, "sfron")
    ctx.timer.start()
    # A forget step every second iteration: at the reference's every fifth, 100 iterations move the loss by ~1.4x.
    method = SFRon.from_params({"iterations": "100", "forget_every": "2"})
    _, before = forget_train_fit(setting.trained("original").model, setting)
    _, after = forget_train_fit(method.unlearn(setting.trained("original").model, ctx), setting)
    assert after > 2 * before
