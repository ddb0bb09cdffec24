"""Builders shared by tests: a prepared setting on the tiny dataset and a context over it."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import torch

from unlearnbench.context import UnlearnContext
from unlearnbench.data import RawSplits
from unlearnbench.evaluate import build_reference
from unlearnbench.method import Method
from unlearnbench.runner import RunRequest, prepare_setting, run_cell
from unlearnbench.setting import Setting
from unlearnbench.timing import PhaseTimer

TINY_CLASSES = 4
# Tests that run methods, the trainer, the timer or the metrics take the `device` fixture over these:
# CUDA joins where it is there (the GPU check runs the fast set on it), CI without an accelerator runs CPU only.
DEVICES = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)


def make_tiny(n_train: int = 240, n_test: int = 80, seed: int = 0) -> RawSplits:
    """Four separable classes of 1x8x8 images (superclasses {0, 1} and {2, 3}): a template per class plus noise."""
    g = torch.Generator().manual_seed(seed)
    templates = torch.rand(TINY_CLASSES, 1, 8, 8, generator=g)

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(n) % TINY_CLASSES
        x = templates[y] + 0.25 * torch.randn(n, 1, 8, 8, generator=g)
        return (x.clamp(0, 1) * 255).to(torch.uint8), y

    x_train, y_train = draw(n_train)
    x_test, y_test = draw(n_test)
    return RawSplits(x_train, y_train, x_test, y_test, num_classes=TINY_CLASSES, scale=255.0,
                     mean=(0.5,), std=(0.3,), superclass_of=(0, 0, 1, 1))


def load_tiny(root: Optional[Path], download: bool) -> RawSplits:
    """Tiny synthetic test data (4 classes, 240 train / 80 test)."""
    return make_tiny()


TINY_RECIPE = {"epochs": "4", "lr": "0.05", "batch_size": "32"}


def tiny_setting(cache_dir: Path, forget: tuple[int, ...] = (0,), model: str = "mlp", seed: int = 0,
                 device: str = "cpu", **recipe: str) -> Setting:
    """A setting on the tiny dataset with a short training recipe (plus `recipe` overrides)."""
    request = RunRequest(dataset="tiny", model=model, forget=forget, seed=seed, device=device,
                         cache_dir=cache_dir, recipe={**TINY_RECIPE, **recipe})
    return prepare_setting(request)


def context(setting: Setting, access: set[str], method: str = "probe") -> UnlearnContext:
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
