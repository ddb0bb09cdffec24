"""NegGrad+: one step is SGD on alpha * CE_retain - (1 - alpha) * CE_forget, in eval mode."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers import context, tiny_setting
from unlearnbench.core.errors import ConfigError
from unlearnbench.methods.neggrad_plus import NegGradPlus


def test_one_full_batch_step_is_sgd_on_the_weighted_retain_minus_forget_loss(tmp_path):
    setting = tiny_setting(tmp_path)
    method = NegGradPlus.from_params({"epochs": "1", "batch_size": "1000", "alpha": "0.7", "lr": "0.1"})
    ctx = context(setting, method.access, "neggrad_plus")
    (x_r, y_r), (x_f, y_f) = ctx.retain(), ctx.forget()
    expected = setting.trained("original").model.eval()
    loss = 0.7 * F.cross_entropy(expected(x_r), y_r) - 0.3 * F.cross_entropy(expected(x_f), y_f)
    grads = torch.autograd.grad(loss, list(expected.parameters()))
    got = method.unlearn(setting.trained("original").model, ctx)
    for p, p0, g in zip(got.parameters(), expected.parameters(), grads):
        assert torch.allclose(p, p0 - 0.1 * g, atol=1e-6)


def test_batchnorm_statistics_stay_the_originals(tmp_path):
    setting = tiny_setting(tmp_path, model="allcnn")
    model = setting.trained("original").model
    running = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    NegGradPlus.from_params({"epochs": "1"}).unlearn(model, context(setting, NegGradPlus.access, "neggrad_plus"))
    assert all(torch.equal(running[k], model.state_dict()[k]) for k in running)


@pytest.mark.parametrize("alpha", ["-0.1", "1.5"])
def test_alpha_outside_the_unit_interval_is_refused(alpha):
    with pytest.raises(ConfigError, match="alpha must lie in"):
        NegGradPlus.from_params({"alpha": alpha})
