"""Builders shared by tests: a prepared setting on the tiny dataset and a context over it."""
from __future__ import annotations

from typing import Any, Callable

import torch

from unlearnbench.core.method import Method
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.execution.evaluate import build_reference
from unlearnbench.execution.runner import run_cell
from unlearnbench.execution.setting import Setting
from unlearnbench.testing import TINY_CLASSES, TINY_RECIPE, load_tiny, make_tiny, tiny_setting  # noqa: F401
from unlearnbench.timing.timer import PhaseTimer

# Tests that run methods, the trainer, the timer or the metrics take the `device` fixture over these:
# CUDA joins where it is there (the GPU check runs the fast set on it), CI without an accelerator runs CPU only.
DEVICES = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)


def context(setting: Setting, access: set[str], method: str = "tester") -> UnlearnContext:
    """A context granting `access` over `setting`, with the method generator the runner gives (on its device)."""
    timer = PhaseTimer(setting.data.device)
    return UnlearnContext(method, frozenset(access), setting, timer, setting.generator("method"))


def cell_row(setting: Setting, method: Method) -> dict:
    """The stored row of `method` run on `setting` (with the setting's retrained reference)."""
    return run_cell(setting, method, "test-run", {}, build_reference(setting))


def spy_on_training(monkeypatch, module, record: Callable[..., Any]) -> list:
    """Wraps `module.train_epochs` so each call first appends record(model, x, y, **kwargs); returns the list."""
    calls: list = []
    real = module.train_epochs

    def spy(model, x, y, *args, **kwargs):
        calls.append(record(model, x, y, **kwargs))
        return real(model, x, y, *args, **kwargs)

    monkeypatch.setattr(module, "train_epochs", spy)
    return calls
