"""SCRUB: max steps on forget data for the first msteps epochs, a min step on retain data every epoch."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import unlearnbench.methods.scrub as scrub_module
from helpers import context, spy_on_training, tiny_setting
from unlearnbench.methods.scrub import SCRUB, distill_kl


def test_steps_alternate_as_configured_with_the_signs_of_the_reference(tmp_path, monkeypatch):
    setting = tiny_setting(tmp_path)

    def step(model, x, y, batch_size, loss_fn, **_):
        return len(x), batch_size, loss_fn(model(x[:8]), y[:8], x[:8]).item()

    calls = spy_on_training(monkeypatch, scrub_module, step)
    method = SCRUB.from_params({"epochs": "3", "msteps": "2"})
    ctx = context(setting, method.access, "scrub")
    method.unlearn(setting.trained("original").model, ctx)
    n_f, n_r = len(ctx.forget()[0]), len(ctx.retain()[0])
    assert [(n, b) for n, b, _ in calls] == [(n_f, 512), (n_r, 256), (n_f, 512), (n_r, 256), (n_r, 256)]
    assert calls[0][2] <= 1e-6 and calls[1][2] > 0  # max step: -KL (0 while student = teacher); min: CE + KL


def test_distill_kl_is_the_batch_mean_kl_times_t_squared():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g)
    p_t = F.softmax(t / 4, 1)
    expected = (p_t * (p_t.log() - F.log_softmax(s / 4, 1))).sum() * 16 / 4
    assert distill_kl(s, t, 4.0).item() == pytest.approx(expected.item(), rel=1e-5)
    assert distill_kl(t, t, 4.0).item() == pytest.approx(0.0, abs=1e-6)


def test_the_teacher_is_never_updated(tmp_path):
    setting = tiny_setting(tmp_path)
    original = [p.detach().clone() for p in setting.trained("original").model.parameters()]
    SCRUB().unlearn(setting.trained("original").model, context(setting, SCRUB.access, "scrub"))
    assert all(torch.equal(a, b) for a, b in zip(original, setting.trained("original").model.parameters()))
