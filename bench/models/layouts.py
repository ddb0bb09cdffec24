"""A model's stages and head, read from the layout its family declares (models.architectures.register_model)."""
from __future__ import annotations

from torch import nn

from unlearnbench.core.errors import ConfigError
from unlearnbench.models.architectures import MODELS


def _layout(model_name: str, model: nn.Module) -> tuple[list[nn.Module], nn.Module]:
    layout = MODELS.get(model_name).layout
    if layout is None:
        raise ConfigError(f"model {model_name!r} declares no layout (stages and head); register it with "
                          f"register_model({model_name!r}, layout=...)")
    return layout(model)


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
