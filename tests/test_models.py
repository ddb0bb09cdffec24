"""Model registry: every model builds for every input shape, sized right, reproducible by seed."""
from __future__ import annotations

import pytest
import torch

from unlearnbench.models.architectures import MODELS, build_model


@pytest.mark.parametrize("name", MODELS.names())
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_model_maps_a_batch_to_class_logits(name, shape):
    model = build_model(name, shape, 7, seed=0)
    assert model(torch.randn(2, *shape)).shape == (2, 7)


def test_mlp_is_784_256_128_classes_on_mnist():
    model = build_model("mlp", (1, 28, 28), 10, seed=0)
    widths = [(m.in_features, m.out_features) for m in model if isinstance(m, torch.nn.Linear)]
    assert widths == [(784, 256), (256, 128), (128, 10)]


def test_resnet18_has_the_cifar_stem():
    model = build_model("resnet18", (3, 32, 32), 10, seed=0)
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, torch.nn.Identity)


def test_same_seed_same_weights_and_global_rng_untouched():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_model("cnn", (1, 8, 8), 4, seed=5)
    after = torch.rand(1)
    b = build_model("cnn", (1, 8, 8), 4, seed=5)
    assert torch.equal(before, after)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
