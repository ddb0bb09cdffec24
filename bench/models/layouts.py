"""Each model family's stages and head, so "the last k blocks" (CF-k, EU-k) means the same in every family."""
from __future__ import annotations

from typing import Callable

from torch import nn

from unlearnbench.core.errors import ConfigError
from unlearnbench.core.registry import Registry

Layout = Callable[[nn.Module], tuple[list[nn.Module], nn.Module]]  # model -> (stages in order, head)
LAYOUTS: Registry[Layout] = Registry("block layout")
register_layout = LAYOUTS.register


def _grouped(model: nn.Sequential, starts: list[int], head: int) -> tuple[list[nn.Module], nn.Module]:
    """Stages as slices of a Sequential, each from one start to the next (the last up to the head)."""
    ends = starts[1:] + [head]
    return [nn.Sequential(*list(model)[a:b]) for a, b in zip(starts, ends)], model[head]


@register_layout("mlp")
def mlp_layout(model: nn.Module) -> tuple[list[nn.Module], nn.Module]:
    """A stage per hidden Linear layer (with its ReLU); the head is the last Linear."""
    linear = [i for i, m in enumerate(model) if isinstance(m, nn.Linear)]
    return _grouped(model, linear[:-1], linear[-1])


@register_layout("cnn")
def cnn_layout(model: nn.Module) -> tuple[list[nn.Module], nn.Module]:
    """Two conv stages (conv, ReLU, pool) and the dense stage; the head is the last Linear."""
    linear = [i for i, m in enumerate(model) if isinstance(m, nn.Linear)]
    convs = [i for i, m in enumerate(model) if isinstance(m, nn.Conv2d)]
    return _grouped(model, convs + linear[:-1], linear[-1])


@register_layout("resnet18")
def resnet_layout(model: nn.Module) -> tuple[list[nn.Module], nn.Module]:
    """torchvision's stem and layer1..layer4; the head is fc (SCRUB's and DeepUnlearn's "layer4 + fc" for k=1)."""
    stem = nn.ModuleList([model.conv1, model.bn1])
    return [stem, model.layer1, model.layer2, model.layer3, model.layer4], model.fc


@register_layout("allcnn")
def allcnn_layout(model: nn.Module) -> tuple[list[nn.Module], nn.Module]:
    """Three stages split after each stride-2 conv (3, 3 and 2 convs); the head is the final 1x1 conv."""
    convs = [i for i, m in enumerate(model) if isinstance(m, nn.Conv2d)]
    return _grouped(model, [convs[0], convs[3], convs[6]], convs[-1])


def _layout(model_name: str, model: nn.Module) -> tuple[list[nn.Module], nn.Module]:
    if model_name not in LAYOUTS.names():
        raise ConfigError(f"no block layout for model {model_name!r} (known: {', '.join(LAYOUTS.names())}); "
                          f"register one with unlearnbench.models.layouts.register_layout")
    return LAYOUTS.get(model_name)(model)


def head_of(model_name: str, model: nn.Module) -> nn.Module:
    """The model family's last layer (its input is the penultimate features)."""
    return _layout(model_name, model)[1]


def last_blocks(model_name: str, model: nn.Module, k: int) -> list[nn.Module]:
    """The last `k` stages of `model` plus its head, in order."""
    stages, head = _layout(model_name, model)
    if not 1 <= k <= len(stages):
        raise ConfigError(f"k={k} blocks asked of model {model_name!r}, which has {len(stages)} below its head; "
                          f"use 1..{len(stages)}")
    return [*stages[-k:], head]
