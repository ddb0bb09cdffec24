"""Retrain, fine-tune and gradient ascent: what each sees, what it returns, and how it fails."""
from __future__ import annotations

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from helpers import cell_row, tiny_setting
from unlearnbench.core.method import METHODS


def _row(setting, name, params=None):
    return cell_row(setting, METHODS.get(name).from_params(params))


def test_retrain_returns_the_cached_reference_and_books_its_training_time(tmp_path, device):
    setting = tiny_setting(tmp_path, device=device)
    first = _row(setting, "retrain")
    again = _row(tiny_setting(tmp_path, device=device), "retrain")
    assert first["metrics"]["acc_forget_test"] == 0.0
    assert first["reused_phases"] == [] and again["reused_phases"] == ["train"]
    assert again["phases"]["train"] == first["phases"]["train"]
    assert again["time_s"] == pytest.approx(first["phases"]["train"], abs=0.05)


def test_retrain_never_saw_the_forget_classes(tmp_path, device):
    row = _row(tiny_setting(tmp_path, forget=(1,), device=device), "retrain")
    assert row["metrics"]["acc_forget_train"] == 0.0 and row["metrics"]["acc_retain_test"] > 0.9


def test_finetune_declares_retain_and_keeps_retain_accuracy(tmp_path, device):
    row = _row(tiny_setting(tmp_path, device=device), "finetune", {"epochs": "2"})
    assert METHODS.get("finetune").access == frozenset({"retain"})
    assert row["status"] == "ok" and row["metrics"]["acc_retain_test"] > 0.9


def test_gradient_ascent_lowers_forget_accuracy(tmp_path, device):
    setting = tiny_setting(tmp_path, device=device)
    row = _row(setting, "gradient_ascent", {"lr": "0.02", "epochs": "16"})
    assert row["metrics"]["acc_forget_train"] < 0.5


def test_gradient_ascent_divergence_is_a_failed_cell_with_advice(tmp_path, device):
    row = _row(tiny_setting(tmp_path, device=device), "gradient_ascent", {"lr": "1000", "epochs": "50"})
    assert row["status"] == "failed" and row["error"].startswith("diverged: non-finite loss")
    assert "lower gradient_ascent.lr" in row["error"]


def test_gradient_ascent_stops_at_max_steps(tmp_path, device):
    setting = tiny_setting(tmp_path, device=device)
    setting.trained("original")  # train both models before counting, so only ascent steps are counted
    setting.trained("retrain")
    steps = []
    handle = register_optimizer_step_post_hook(lambda *_: steps.append(1))
    try:
        _row(setting, "gradient_ascent", {"epochs": "100", "max_steps": "7"})
    finally:
        handle.remove()
    assert len(steps) == 7


@pytest.mark.parametrize("name", ["finetune", "gradient_ascent"])
def test_sgd_baselines_use_heavy_ball_momentum_as_unlearn_sparse(tmp_path, monkeypatch, name, device):
    built = []
    module = __import__(f"unlearnbench.methods.{name}", fromlist=["make_optimizer"])
    real = module.make_optimizer
    monkeypatch.setattr(module, "make_optimizer", lambda *a, **k: built.append(real(*a, **k)) or built[-1])
    _row(tiny_setting(tmp_path, device=device), name, {"epochs": "1"})
    group = built[0].param_groups[0]
    assert group["momentum"] == 0.9 and group["nesterov"] is False
