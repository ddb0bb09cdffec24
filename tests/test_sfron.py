"""SFR-on: the saliency mask, the adaptive forget loss, and Fisher caching keyed by the exact forget set."""
from __future__ import annotations

import pytest
import torch

from helpers import cell_row, context, tiny_setting
from unlearnbench.methods.sfron import SFRon, adaptive_cross_entropy, saliency_mask

FAST = {"iterations": "30"}


def test_the_mask_keeps_parameters_more_important_to_forget_than_retain_data():
    forget = {"w": torch.tensor([2.0, 1.0, 0.5, 0.0])}
    retain = {"w": torch.tensor([1.0, 1.0, 1.0, 0.0])}
    assert saliency_mask(forget, retain, 1.0)["w"].tolist() == [1.0, 1.0, 0.0, 1.0]


def test_the_forget_loss_weights_each_sample_by_its_loss_to_the_minus_lambda():
    logits = torch.log(torch.tensor([[0.5, 0.5], [0.9, 0.1]]))
    labels = torch.tensor([0, 1])
    ce = torch.tensor([-torch.log(torch.tensor(0.5)), -torch.log(torch.tensor(0.1))])
    w = ce.pow(-0.5) / ce.pow(-0.5).sum()
    assert adaptive_cross_entropy(logits, labels, 0.5).item() == pytest.approx((w * ce).sum().item(), rel=1e-6)


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


@pytest.mark.parametrize("forget", [(0,), "random:0.2"])
def test_sfron_runs_in_class_and_random_forgetting(tmp_path, forget):
    row = cell_row(tiny_setting(tmp_path, forget=forget), SFRon.from_params({"iterations": "100"}))
    assert row["status"] == "ok"
    if forget == (0,):
        assert row["metrics"]["acc_forget_test"] < 0.5
