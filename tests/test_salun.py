"""SalUn: the mask keeps the configured fraction of weights, and the weights outside it never move."""
from __future__ import annotations

import pytest
import torch

from helpers import context, tiny_setting
from unlearnbench.core.errors import ConfigError
from unlearnbench.methods.salun import SalUn, saliency_mask


def test_the_mask_keeps_exactly_the_configured_fraction_of_the_most_salient_weights(tmp_path):
    setting = tiny_setting(tmp_path)
    model = setting.trained("original").model
    x, y = context(setting, {"forget"}).forget()
    masks = saliency_mask(model, x, y, 0.3, 64)
    total = sum(m.numel() for m in masks.values())
    assert sum(int(m.sum()) for m in masks.values()) == int(0.3 * total)
    assert all(p.grad is None for p in model.parameters())


def test_weights_outside_the_mask_stay_bit_identical_under_momentum_and_weight_decay(tmp_path, monkeypatch):
    # Regression of SalUn PR #33: the optimiser's own weight decay and momentum moved masked-out weights.
    import unlearnbench.methods.salun as salun_module

    setting = tiny_setting(tmp_path)
    model = setting.trained("original").model
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    kept = {}
    real = salun_module.saliency_mask

    def spy(*args):
        kept.update(real(*args))
        return kept

    monkeypatch.setattr(salun_module, "saliency_mask", spy)
    method = SalUn.from_params({"threshold": "0.2", "epochs": "3", "weight_decay": "0.1", "lr": "0.05"})
    method.unlearn(model, context(setting, method.access, "salun"))
    for name, p in model.named_parameters():
        outside = kept[name] == 0
        assert torch.equal(p.detach()[outside], before[name][outside])
        assert not torch.equal(p.detach()[~outside], before[name][~outside])


@pytest.mark.parametrize("threshold", ["0", "1.5"])
def test_a_threshold_outside_zero_one_is_refused(threshold):
    with pytest.raises(ConfigError, match="threshold must lie in"):
        SalUn.from_params({"threshold": threshold})
