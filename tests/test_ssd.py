"""SSD and LFSSD: the importance is the batch-averaged squared gradient, and dampening touches exactly the selected
parameters by min(lambda * I_D / I_f, 1)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import cell_row, context, tiny_setting
from unlearnbench.methods.lfssd import LFSSD, output_norm
from unlearnbench.methods.ssd import SSD, cross_entropy, dampen, importance


def test_importance_is_the_mean_over_batches_of_the_squared_batch_gradient():
    model = nn.Linear(3, 2)
    x, y = torch.randn(5, 3, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 1, 0, 1])
    expected = torch.zeros_like(model.weight)
    for part in (slice(0, 2), slice(2, 4), slice(4, 5)):
        grad, = torch.autograd.grad(F.cross_entropy(model(x[part]), y[part]), model.weight)
        expected += grad.square()
    got = importance(model, x, y, cross_entropy, batch_size=2)
    assert torch.allclose(got["weight"], expected / 3) and all(p.grad is None for p in model.parameters())


def test_dampening_scales_exactly_the_selected_parameters_and_leaves_the_rest_bit_identical():
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    full = {"weight": torch.tensor([[1.0, 1.0], [1.0, 0.0]])}
    forget = {"weight": torch.tensor([[20.0, 5.0], [40.0, 1.0]])}  # > 10 x full at (0, 0), (1, 0) and (1, 1)
    before = model.weight.detach().clone()
    assert dampen(model, forget, full, alpha=10.0, dampening=1.0) == 3
    w = model.weight.detach()
    assert w[0, 0] == before[0, 0] * (1 / 20) and w[1, 0] == before[1, 0] * (1 / 40)
    assert w[1, 1] == 0.0  # I_D = 0 there: the factor is 0
    assert w[0, 1] == before[0, 1]  # not selected: untouched


def test_the_factor_never_exceeds_one():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(2.0)
    # Selected (2 > 1 x 1), and lambda * I_D / I_f = 2.5: bounded by 1, so the weight is never scaled up.
    assert dampen(model, {"weight": torch.tensor([[2.0]])}, {"weight": torch.tensor([[1.0]])}, 1.0, 5.0) == 1
    assert model.weight.item() == 2.0


def test_lfssd_reads_no_labels():
    assert "forget" not in LFSSD.access and output_norm(torch.ones(2, 3), None) == 3.0
    model = nn.Linear(3, 2)
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    assert all(torch.equal(a, b) for a, b in zip(importance(model, x, None, output_norm, 2).values(),
                                                 importance(model, x, torch.zeros(4), output_norm, 2).values()))


def test_ssd_forgets_the_class_on_tiny_data_and_reports_its_phases(tmp_path):
    setting = tiny_setting(tmp_path)
    row = cell_row(setting, SSD.from_params({"alpha": "2"}))
    assert row["status"] == "ok" and set(row["phases"]) == {"importance_forget", "importance_full", "dampen"}
    assert row["metrics"]["acc_forget_test"] < 0.5 and row["metrics"]["acc_retain_test"] > 0.5


def test_ssd_leaves_batchnorm_statistics_alone(tmp_path):
    setting = tiny_setting(tmp_path, model="allcnn")
    model = setting.trained("original").model
    running = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    SSD().unlearn(model, context(setting, SSD.access, "ssd"))
    assert all(torch.equal(running[k], model.state_dict()[k]) for k in running)


def test_the_full_train_importance_is_cached_per_original_model_with_its_first_seconds_booked(tmp_path):
    seconds = []
    for forget in ((0,), (1,)):  # another forget set: I_D does not depend on it
        setting = tiny_setting(tmp_path, forget=forget)
        ctx = context(setting, SSD.access, "ssd")
        ctx.timer.start()
        SSD().unlearn(setting.trained("original").model, ctx)
        seconds.append((ctx.timer.phases["importance_full"], "importance_full" in ctx.timer.reused))
    assert seconds[0][1] is False and seconds[1][1] is True
    assert seconds[1][0] == pytest.approx(seconds[0][0])
