"""Boundary Expanding: the shadow class exists only while unlearning; the returned model has C outputs."""
from __future__ import annotations

import torch
from torch import nn

from helpers import context, tiny_setting
from unlearnbench.methods.boundary_expanding import BoundaryExpanding, class_head, with_outputs


def test_the_returned_model_has_the_original_outputs_and_architecture(tmp_path):
    for model_name in ("mlp", "allcnn"):
        setting = tiny_setting(tmp_path / model_name, model=model_name)
        reference = setting.new_model()
        model = BoundaryExpanding.from_params({"epochs": "1"}).unlearn(
            setting.trained("original").model, context(setting, BoundaryExpanding.access, "boundary_expanding"))
        assert model(setting.data.x_test[:3]).shape == (3, setting.data.num_classes)
        assert [(k, v.shape) for k, v in model.state_dict().items()] == \
               [(k, v.shape) for k, v in reference.state_dict().items()]


def test_widening_keeps_every_existing_output_and_pruning_drops_only_the_shadow():
    head = nn.Linear(4, 3)
    wider = with_outputs(head, 4, torch.Generator().manual_seed(0))
    x = torch.randn(2, 4)
    assert torch.allclose(wider(x)[:, :3], head(x), atol=1e-6)
    assert torch.equal(with_outputs(wider, 3, torch.Generator())(x), head(x))


def test_the_head_is_the_last_layer_producing_the_class_logits(tmp_path):
    setting = tiny_setting(tmp_path, model="allcnn")
    _, _, head = class_head(setting.new_model(), setting.data.num_classes)
    assert isinstance(head, nn.Conv2d) and head.kernel_size == (1, 1)
