"""Recipe precision and memory layout: bf16 autocast, channels-last, fp32 evaluation, unchanged keys."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers import tiny_setting
from unlearnbench.core.errors import ConfigError
from unlearnbench.execution.runner import RunRequest, prepare_setting
from unlearnbench.models.inference import accuracy, predict
from unlearnbench.models.recipes import default_recipe, recipe_identity
from unlearnbench.models.training import make_optimizer


def test_default_recipe_identity_omits_the_later_fields():
    # Stored cells and cached models from before these fields existed keep their keys.
    identity = recipe_identity(default_recipe("mnist", "mlp"))
    assert "precision" not in identity and "channels_last" not in identity


def test_recipe_identity_names_a_set_precision_and_layout():
    identity = recipe_identity(default_recipe("mnist", "cnn", {"precision": "bf16", "channels_last": "true"}))
    assert identity["precision"] == "bf16" and identity["channels_last"] is True


def test_unknown_precision_names_the_choices():
    with pytest.raises(ConfigError, match="precision must be one of fp32, bf16, got 'fp16'"):
        default_recipe("mnist", "cnn", {"precision": "fp16"})


def test_channels_last_recipe_gives_nhwc_conv_weights_also_when_loaded_from_cache(tmp_path, device):
    setting = tiny_setting(tmp_path, model="cnn", channels_last="true", device=device)
    setting.trained("original")
    setting.reset("original")
    loaded = setting.trained("original")
    assert loaded.cached
    conv = loaded.model[3].weight  # the second conv: with one input channel both layouts coincide
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()


def test_bf16_scope_sees_each_steps_new_weights(tmp_path, device):
    # Regression: with autocast's cast cache on, a scope spanning a loop kept the first step's bf16 weights.
    setting = tiny_setting(tmp_path, precision="bf16", device=device)
    model = setting.new_model()
    opt = make_optimizer(model.parameters(), "sgd", 0.5)
    x, y = setting.data.x_train[:32], setting.data.y_train[:32]
    with setting.autocast():
        before = model(x)
        F.cross_entropy(before, y).backward()
        opt.step()
        after = model(x)
    assert before.dtype == torch.bfloat16
    assert not torch.equal(before, after)


def test_predict_returns_fp32_logits_inside_a_bf16_scope(tmp_path, device):
    setting = tiny_setting(tmp_path, precision="bf16", device=device)
    with setting.autocast():
        logits = predict(setting.new_model(), setting.data.x_test)
    assert logits.dtype == torch.float32


def test_bf16_channels_last_training_keeps_digits_cnn_accuracy(tmp_path):
    """The accuracy check of the fast path: bf16 + channels-last within 1.5 points of fp32 on digits/cnn."""
    scores = {}
    for precision, layout in (("fp32", "false"), ("bf16", "true")):
        recipe = {"precision": precision, "channels_last": layout, "epochs": "10"}
        setting = prepare_setting(RunRequest(dataset="digits", model="cnn", device="cpu",
                                             cache_dir=tmp_path / precision, recipe=recipe))
        model = setting.trained("original").model
        scores[precision] = accuracy(predict(model, setting.data.x_test), setting.data.y_test)
    assert scores["fp32"] > 0.95
    assert abs(scores["bf16"] - scores["fp32"]) <= 0.015
