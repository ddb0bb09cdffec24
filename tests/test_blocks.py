"""Block layouts: "the last k blocks" per model family, always with the head."""
from __future__ import annotations

import pytest
from torch import nn

from unlearnbench.core.errors import ConfigError
from unlearnbench.models.architectures import MODELS, build_model, register_model
from unlearnbench.models.layouts import last_blocks


def _params(modules):
    return {id(p) for m in modules for p in m.parameters()}


def test_an_mlp_block_is_a_hidden_linear_layer_and_the_head_always_comes_along():
    model = build_model("mlp", (1, 8, 8), 4, seed=0)
    linear = [m for m in model if isinstance(m, nn.Linear)]
    assert _params(last_blocks("mlp", model, 1)) == _params(linear[-2:])
    assert _params(last_blocks("mlp", model, 2)) == _params(linear)


def test_a_resnet_block_is_a_residual_stage_so_k1_is_layer4_and_fc():
    model = build_model("resnet18", (3, 8, 8), 4, seed=0)
    assert _params(last_blocks("resnet18", model, 1)) == _params([model.layer4, model.fc])


def test_the_cnn_has_two_conv_stages_and_a_dense_one_below_its_head():
    model = build_model("cnn", (1, 8, 8), 4, seed=0)
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    assert _params(last_blocks("cnn", model, 3)) == _params(model)
    assert not _params(last_blocks("cnn", model, 2)) & _params(convs[:1])


def test_allcnn_blocks_split_after_each_stride_two_conv():
    model = build_model("allcnn", (3, 8, 8), 4, seed=0)

    def convs(k):
        return sum(isinstance(m, nn.Conv2d) for block in last_blocks("allcnn", model, k) for m in block.modules())
    assert [convs(1), convs(2), convs(3)] == [2 + 1, 5 + 1, 8 + 1]


def test_more_blocks_than_the_model_has_is_a_one_line_error():
    with pytest.raises(ConfigError, match="k=3 blocks asked of model 'mlp', which has 2"):
        last_blocks("mlp", build_model("mlp", (1, 8, 8), 4, seed=0), 3)


@pytest.fixture
def family_without_layout():
    register_model("flat_linear")(lambda shape, classes: nn.Sequential(nn.Flatten(), nn.Linear(64, classes)))
    yield "flat_linear"
    MODELS.remove("flat_linear")


def test_a_model_family_without_a_layout_is_named_in_the_error(family_without_layout):
    model = build_model(family_without_layout, (1, 8, 8), 4, seed=0)
    with pytest.raises(ConfigError, match="model 'flat_linear' declares no layout"):
        last_blocks(family_without_layout, model, 1)


def test_a_family_declares_its_layout_where_it_registers():
    fresh = build_model("cnn", (1, 8, 8), 4, seed=0)
    stages, head = MODELS.get("cnn").layout(fresh)
    assert head is fresh[-1] and len(stages) == 3
