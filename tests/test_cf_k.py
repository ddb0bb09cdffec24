"""CF-k and EU-k: only the last k blocks and the head are trained, in eval mode; EU-k starts them afresh."""
from __future__ import annotations

import pytest
import torch

from helpers import context, spy_on_training, tiny_setting
from unlearnbench.core.errors import ConfigError
from unlearnbench.methods import cf_k as cf_k_module
from unlearnbench.methods.cf_k import CFk
from unlearnbench.methods.eu_k import EUk
from unlearnbench.models.layouts import last_blocks


def _split(model, k=1):
    tail = {id(p) for m in last_blocks("mlp", model, k) for p in m.parameters()}
    return tail, [(name, p) for name, p in model.named_parameters()]


def test_cf_k_moves_the_last_block_and_head_and_leaves_the_rest_bit_identical(tmp_path):
    setting = tiny_setting(tmp_path)
    original = setting.trained("original").model
    model = CFk().unlearn(setting.trained("original").model, context(setting, CFk.access, "cf_k"))
    tail, named = _split(model)
    before = dict(original.named_parameters())
    for name, p in named:
        assert torch.equal(p, before[name]) != (id(p) in tail), name
    assert all(p.requires_grad for p in model.parameters())


def test_cf_k_trains_in_eval_mode_on_retain_data(tmp_path, monkeypatch):
    setting = tiny_setting(tmp_path)
    calls = spy_on_training(monkeypatch, cf_k_module, lambda model, x, y, **kw: (len(x), kw["train_mode"]))
    ctx = context(setting, CFk.access, "cf_k")
    CFk().unlearn(setting.trained("original").model, ctx)
    assert calls == [(len(ctx.retain()[0]), False)]


def test_eu_k_starts_the_retrained_blocks_from_a_fresh_initialisation(tmp_path):
    setting = tiny_setting(tmp_path)
    model = EUk.from_params({"lr": "1e-12"}).unlearn(setting.trained("original").model,
                                                     context(setting, EUk.access, "eu_k"))
    fresh = dict(setting.new_model("random_init").named_parameters())
    original = dict(setting.trained("original").model.named_parameters())
    tail, named = _split(model)
    for name, p in named:
        assert torch.allclose(p, (fresh if id(p) in tail else original)[name], atol=1e-6), name


def test_eu_k_trains_for_the_originals_epoch_count_by_default(tmp_path, monkeypatch):
    setting = tiny_setting(tmp_path)
    calls = spy_on_training(monkeypatch, cf_k_module, lambda model, x, y, **kw: kw["epochs"])
    EUk().unlearn(setting.trained("original").model, context(setting, EUk.access, "eu_k"))
    assert calls == [setting.recipe.epochs]


def test_lr_decay_epochs_must_be_whole_positive_epochs():
    with pytest.raises(ConfigError, match="lr_decay_epochs must be comma-separated whole epochs"):
        CFk.from_params({"lr_decay_epochs": "ten"})
