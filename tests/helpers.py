"""Builders shared by tests: a prepared setting on the tiny dataset and a context over it."""
from __future__ import annotations

from pathlib import Path

import torch

from unlearnbench.context import UnlearnContext
from unlearnbench.runner import RunRequest, prepare_setting
from unlearnbench.setting import Setting
from unlearnbench.timing import PhaseTimer

TINY_RECIPE = {"epochs": "4", "lr": "0.05", "batch_size": "32"}


def tiny_setting(cache_dir: Path, forget: tuple[int, ...] = (0,), model: str = "mlp", seed: int = 0) -> Setting:
    """A CPU setting on the tiny dataset with a short training recipe."""
    request = RunRequest(dataset="tiny", model=model, forget=forget, seed=seed, device="cpu",
                         cache_dir=cache_dir, recipe=TINY_RECIPE)
    return prepare_setting(request)


def context(setting: Setting, access: set[str], method: str = "probe") -> UnlearnContext:
    """A context granting `access` over `setting`."""
    timer = PhaseTimer(setting.data.device)
    return UnlearnContext(method, frozenset(access), setting, timer, torch.Generator().manual_seed(0))
