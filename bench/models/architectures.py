"""Model families: each builder makes a classifier for an input shape and class count, and declares its layout
(stages and head), so "the last k blocks" (CF-k, EU-k) and "the head" (deep metrics, Fisher) mean the same in
every family."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import nn

from unlearnbench.core.registry import Registry

Shape = tuple[int, int, int]
Builder = Callable[[Shape, int], nn.Module]
Layout = Callable[[nn.Module], tuple[list[nn.Module], nn.Module]]  # model -> (stages in order, head)


@dataclass(frozen=True)
class ModelFamily:
    """A registered architecture: its builder and the layout (stages, head) CF-k, EU-k and deep metrics read."""

    build: Builder
    layout: Optional[Layout] = None  # None: methods and metrics that need stages or the head refuse this model


# plugins=True: a package ships architectures through the `unlearnbench.models` entry-point group (its module calls
# register_model, declaring the family's layout beside its builder).
MODELS: Registry[ModelFamily] = Registry("model", plugins=True)


def register_model(name: str, layout: Optional[Layout] = None) -> Callable[[Builder], Builder]:
    """Decorator registering a builder as model family `name`, with its layout where the family has one."""
    def decorate(builder: Builder) -> Builder:
        MODELS.register(name)(ModelFamily(builder, layout))
        return builder

    return decorate


def build_model(name: str, input_shape: Shape, num_classes: int, seed: int) -> nn.Module:
    """Builds model `name` with weights initialised from `seed` (the global RNG is left untouched)."""
    builder = MODELS.get(name).build
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return builder(tuple(input_shape), num_classes)


def _grouped(model: nn.Sequential, starts: list[int], head: int) -> tuple[list[nn.Module], nn.Module]:
    """Stages as slices of a Sequential, each from one start to the next (the last up to the head)."""
    ends = starts[1:] + [head]
    return [nn.Sequential(*list(model)[a:b]) for a, b in zip(starts, ends)], model[head]


def mlp_layout(model: nn.Module) -> tuple[list[nn.Module], nn.Module]:
    """A stage per hidden Linear layer (with its ReLU); the head is the last Linear."""
    linear = [i for i, m in enumerate(model) if isinstance(m, nn.Linear)]
    return _grouped(model, linear[:-1], linear[-1])


@register_model("mlp", layout=mlp_layout)
def mlp(input_shape: Shape, num_classes: int) -> nn.Module:
    """Two hidden ReLU layers, 256 and 128 wide (784-256-128-10 on MNIST)."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(input_shape), 256), nn.ReLU(),
        nn.Linear(256, 128), nn.ReLU(),
        nn.Linear(128, num_classes),
    )


def cnn_layout(model: nn.Module) -> tuple[list[nn.Module], nn.Module]:
    """Two conv stages (conv, ReLU, pool) and the dense stage; the head is the last Linear."""
    linear = [i for i, m in enumerate(model) if isinstance(m, nn.Linear)]
    convs = [i for i, m in enumerate(model) if isinstance(m, nn.Conv2d)]
    return _grouped(model, convs + linear[:-1], linear[-1])


@register_model("cnn", layout=cnn_layout)
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


def resnet_layout(model: nn.Module) -> tuple[list[nn.Module], nn.Module]:
    """torchvision's stem and layer1..layer4; the head is fc (SCRUB's and DeepUnlearn's "layer4 + fc" for k=1)."""
    stem = nn.ModuleList([model.conv1, model.bn1])
    return [stem, model.layer1, model.layer2, model.layer3, model.layer4], model.fc


@register_model("resnet18", layout=resnet_layout)
def resnet18(input_shape: Shape, num_classes: int) -> nn.Module:
    """torchvision's ResNet-18 with the CIFAR stem: a 3x3 stride-1 first conv and no max-pool."""
    import torchvision  # on first use: it costs about 1.5 s of start-up that other models should not pay

    model = torchvision.models.resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(input_shape[0], 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


def _conv(cin: int, cout: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


def allcnn_layout(model: nn.Module) -> tuple[list[nn.Module], nn.Module]:
    """Three stages split after each stride-2 conv (3, 3 and 2 convs); the head is the final 1x1 conv."""
    convs = [i for i, m in enumerate(model) if isinstance(m, nn.Conv2d)]
    return _grouped(model, [convs[0], convs[3], convs[6]], convs[-1])


@register_model("allcnn", layout=allcnn_layout)
def allcnn(input_shape: Shape, num_classes: int) -> nn.Module:
    """All-CNN-C (Springenberg et al., ICLR-W 2015) with BatchNorm, as in Golatkar et al. (CVPR 2020)."""
    layers = [
        *_conv(input_shape[0], 96, 3), *_conv(96, 96, 3), *_conv(96, 96, 3, stride=2),
        *_conv(96, 192, 3), *_conv(192, 192, 3), *_conv(192, 192, 3, stride=2),
        *_conv(192, 192, 3), *_conv(192, 192, 1),
        nn.Conv2d(192, num_classes, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    ]
    return nn.Sequential(*layers)
