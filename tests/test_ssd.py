"""SSD and LFSSD: the importance is the batch-averaged squared gradient, and dampening touches exactly the selected
parameters by min(lambda * I_D / I_f, 1)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import cell_row, context, tiny_setting
from unlearnbench.core.errors import ConfigError
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
    row = cell_row(setting, SSD.from_params({"alpha": "2", "batch_order": "shuffled"}))
    assert row["status"] == "ok" and set(row["phases"]) == {"importance_forget", "importance_full", "dampen"}
    assert row["metrics"]["acc_forget_test"] < 0.5 and row["metrics"]["acc_retain_test"] > 0.5


def test_ssd_leaves_batchnorm_statistics_alone(tmp_path):
    setting = tiny_setting(tmp_path, model="allcnn")
    model = setting.trained("original").model
    running = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    SSD().unlearn(model, context(setting, SSD.access, "ssd"))
    assert all(torch.equal(running[k], model.state_dict()[k]) for k in running)


def _full_importance_run(tmp_path, forget, **params) -> tuple[float, bool]:
    setting = tiny_setting(tmp_path, forget=forget)
    ctx = context(setting, SSD.access, "ssd")
    ctx.timer.start()
    SSD.from_params(params).unlearn(setting.trained("original").model, ctx)
    return ctx.timer.phases["importance_full"], "importance_full" in ctx.timer.reused


def test_the_full_train_importance_is_reused_for_the_same_forget_set_with_its_first_seconds_booked(tmp_path):
    first, second = _full_importance_run(tmp_path, (0,)), _full_importance_run(tmp_path, (0,))
    assert first[1] is False and second[1] is True and second[0] == pytest.approx(first[0])


def test_the_full_train_importance_is_recomputed_for_another_forget_set_or_batching(tmp_path):
    _full_importance_run(tmp_path, (0,))
    assert _full_importance_run(tmp_path, (1,))[1] is False  # by_class puts other rows last: other batches
    assert _full_importance_run(tmp_path, (0,), batch_size=32)[1] is False


def test_class_and_random_forgetting_default_to_the_authors_scripts():
    assert (SSD.from_params().cfg.batch_size, SSD.from_params().cfg.batch_order) == (64, "by_class")
    random = SSD.from_params(scenario="random").cfg
    assert (random.batch_size, random.batch_order) == (128, "retain_then_forget")
    assert LFSSD.from_params(scenario="random").cfg.batch_order == "retain_then_forget"


def test_an_unknown_batch_order_is_refused_naming_the_choices():
    with pytest.raises(ConfigError, match="batch_order must be one of by_class, retain_then_forget, shuffled"):
        SSD.from_params({"batch_order": "sorted"})


def test_class_homogeneous_batches_give_a_larger_full_importance(tmp_path):
    setting = tiny_setting(tmp_path)
    model = setting.trained("original").model.eval()
    totals = {}
    for order in ("by_class", "shuffled"):
        x, y = context(setting, SSD.access, "ssd").full_train(order)
        totals[order] = sum(t.sum() for t in importance(model, x, y, cross_entropy, 16).values())
    assert totals["by_class"] > 1.5 * totals["shuffled"]  # 1.9x here; 2.4x on MNIST/mlp


def test_lfssd_importance_is_the_mean_over_batches_of_the_absolute_batch_gradient():
    model = nn.Linear(3, 2)
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(2))
    expected = sum(torch.autograd.grad(output_norm(model(x[part]), None), model.weight)[0].abs()
                   for part in (slice(0, 2), slice(2, 4)))
    got = importance(model, x, None, output_norm, batch_size=2, magnitude="abs")
    assert torch.allclose(got["weight"], expected / 2)
