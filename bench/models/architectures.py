"""Model registry: each builder makes a classifier for a given input shape and class count."""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from unlearnbench.core.registry import Registry

Shape = tuple[int, int, int]
Builder = Callable[[Shape, int], nn.Module]
# plugins=True: a package ships architectures through the `unlearnbench.models` entry-point group (its module calls
# register_model, and unlearnbench.models.layouts.register_layout for the head and blocks CF-k/EU-k and deep metrics use).
MODELS: Registry[Builder] = Registry("model", plugins=True)
register_model = MODELS.register


def build_model(name: str, input_shape: Shape, num_classes: int, seed: int) -> nn.Module:
    """Builds model `name` with weights initialised from `seed` (the global RNG is left untouched)."""
    builder = MODELS.get(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return builder(tuple(input_shape), num_classes)


@register_model("mlp")
def mlp(input_shape: Shape, num_classes: int) -> nn.Module:
    """Two hidden ReLU layers, 256 and 128 wide (784-256-128-10 on MNIST)."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(input_shape), 256), nn.ReLU(),
        nn.Linear(256, 128), nn.ReLU(),
        nn.Linear(128, num_classes),
    )


@register_model("cnn")
def cnn(input_shape: Shape, num_classes: int) -> nn.Module:
    """Two 3x3 conv blocks (16, 32 channels) with 2x2 max-pool, then a 128-wide dense layer."""
    channels, height, width = input_shape
    return nn.Sequential(
        nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * (height // 4) * (width // 4), 128), nn.ReLU(),
        nn.Linear(128, num_classes),
    )


@register_model("resnet18")
def resnet18(input_shape: Shape, num_classes: int) -> nn.Module:
    """torchvision's ResNet-18 with the CIFAR stem: a 3x3 stride-1 first conv and no max-pool."""
    import torchvision  # on first use: it costs about 1.5 s of start-up that other models should not pay

    model = torchvision.models.resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(input_shape[0], 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


def _conv(cin: int, cout: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


@register_model("allcnn")
def allcnn(input_shape: Shape, num_classes: int) -> nn.Module:
    """All-CNN-C (Springenberg et al., ICLR-W 2015) with BatchNorm, as in Golatkar et al. (CVPR 2020)."""
    layers = [
        *_conv(input_shape[0], 96, 3), *_conv(96, 96, 3), *_conv(96, 96, 3, stride=2),
        *_conv(96, 192, 3), *_conv(192, 192, 3), *_conv(192, 192, 3, stride=2),
        *_conv(192, 192, 3), *_conv(192, 192, 1),
        nn.Conv2d(192, num_classes, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    ]
    return nn.Sequential(*layers)
