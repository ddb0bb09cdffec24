"""Builders shared by tests: a prepared setting on the tiny dataset and a context over it, stored rows for the
reports, a tunable test method, and registrations that last one test."""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from unlearnbench.core.config import require_positive
from unlearnbench.core.method import METHODS, Method
from unlearnbench.core.space import Range
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.execution.evaluate import build_reference
from unlearnbench.execution.runner import run_cell
from unlearnbench.execution.setting import Setting
from unlearnbench.metrics import DEFINITIONS_VERSION, METRICS, VALUES, MetricInputs, MetricValue, register_metric
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


def forget_train_fit(model: nn.Module, setting: Setting) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of `model`, in eval mode, on the setting's forget-train rows."""
    rows = setting.split.forget_train
    x, y = setting.data.x_train[rows], setting.data.y_train[rows]
    with torch.no_grad():
        logits = model.eval()(x)
    return (logits.argmax(1) == y).float().mean().item(), F.cross_entropy(logits, y).item()


def spy_on_training(monkeypatch, module, record: Callable[..., Any]) -> list:
    """Wraps `module.train_epochs` so each call first appends record(model, x, y, **kwargs); returns the list."""
    calls: list = []
    real = module.train_epochs

    def spy(model, x, y, *args, **kwargs):
        calls.append(record(model, x, y, **kwargs))
        return real(model, x, y, *args, **kwargs)

    monkeypatch.setattr(module, "train_epochs", spy)
    return calls


@contextmanager
def registered_methods(**methods: type[Method]) -> Iterator[None]:
    """Registers each class under its keyword (through the public registry) for the block, then removes it."""
    added: list[str] = []
    try:
        for name, cls in methods.items():
            METHODS.add(name, cls)
            added.append(name)  # only what this block added is removed: a clash leaves the other owner's entry
        yield
    finally:
        for name in added:
            METHODS.remove(name)


@contextmanager
def registered_metric(name: str, fn: Callable[[MetricInputs], dict[str, float]],
                      *produces: MetricValue) -> Iterator[None]:
    """Registers `fn` as metric `name` declaring `produces` for the block, then removes the metric and its values."""
    register_metric(name, produces=produces)(fn)
    try:
        yield
    finally:
        METRICS.remove(name)
        for value in produces:
            VALUES.remove(value.name)


@dataclass(frozen=True)
class ShrinkConfig:
    scale: float = 0.5  # each weight is multiplied by 1 - scale / 10

    def __post_init__(self) -> None:
        require_positive(self, "scale")


class Shrink(Method):
    """A tunable test method: shrinks every weight by scale/10; past scale 8 it returns NaN weights (a diverged run)."""

    Config = ShrinkConfig
    search_space = {"scale": Range(0.1, 10.0)}
    scenarios = frozenset({"class", "random"})

    def unlearn(self, model: nn.Module, ctx) -> nn.Module:
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(float("nan") if self.cfg.scale > 8 else 1 - self.cfg.scale / 10)
        return model


EVIL = "<script>alert('x')</script>"


def stored_row(method, seed, gap, time_s=1.0, status="ok", error=None, params=None, dataset="tiny", access=()):
    """A stored row whose every concern-gap member lies `gap` from a row made with gap 0: its gaps (and the
    composite) are `gap` against such a retrained row."""
    metrics = {"acc_forget_test": gap, "acc_forget_train": gap, "acc_retain_test": 0.9 - gap,
               "acc_retain_train": 0.95 - gap, "acc_test": 0.8, "mia_entropy": 0.1 + gap, "mia_svc": 0.5,
               "mia_loss": 0.5, "mia_entropy_auc": 0.5 + gap, "mia_svc_auc": 0.5 + gap, "mia_loss_auc": 0.5 + gap,
               "speedup_vs_retrain": 10.0 / time_s if time_s else math.inf,
               "mia_loss_signal": 0.01, "mia_entropy_signal": 0.4, "mia_svc_signal": 0.3}
    return {"id": seed, "run_id": "r", "created": "2026", "dataset": dataset, "model": "mlp", "forget": [0],
            "seed": seed, "method": method, "method_version": 1, "params": params or {},
            "params_hash": str(sorted((params or {}).items())), "access": list(access), "status": status,
            "error": error, "time_s": time_s if status == "ok" else None, "phases": {"p": time_s},
            "reused_phases": [], "peak_mem_bytes": 2**20, "metrics": metrics if status == "ok" else {},
            "env": {"device": "cpu", "device_name": "cpu", "torch": "2", "cuda": None, "unlearnbench": "0.1",
                    "git": None, "cpu_count": 2, "gpu_count": 0, "python": "3"}, "recipe": {"epochs": 1},
            "definitions": DEFINITIONS_VERSION}
