"""What every method must meet, checkable by its author: `check_method(method)` (as scikit-learn's
`check_estimator`), and the tiny synthetic dataset it runs on.

Rules, each failure naming its rule: the Config survives a round trip; the method runs in every scenario it
declares; it returns the same architecture with finite outputs; it changes the weights; it reads only the data it
declared (the context's gate) and never the test split (the context's setting guards it); it is deterministic for
a seed.
"""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from unlearnbench.core.config import build_config, config_dict
from unlearnbench.core.errors import DataAccessError, HeldOutTestSplitError
from unlearnbench.core.method import Method
from unlearnbench.data.loading import DATASETS, RawSplits
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.execution.runner import RunRequest, prepare_setting
from unlearnbench.execution.setting import Setting
from unlearnbench.timing.timer import PhaseTimer

TINY_CLASSES = 4
TINY_RECIPE = {"epochs": "4", "lr": "0.05", "batch_size": "32"}
# One forget specification per scenario on the tiny dataset.
SCENARIO_SPECS = {"class": "0", "partial": "partial:0@0.5", "random": "random:0.1", "subclass": "subclass:1"}


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
    """Tiny synthetic data (4 classes, 240 train / 80 test), as a dataset loader."""
    return make_tiny()


def register_tiny() -> None:
    """Registers the tiny dataset as "tiny" (once per process)."""
    if "tiny" not in DATASETS:
        DATASETS.add("tiny", load_tiny)


def tiny_setting(cache_dir: Path, forget: Any = (0,), model: str = "mlp", seed: int = 0, device: str = "cpu",
                 **recipe: str) -> Setting:
    """A setting on the tiny dataset with a short training recipe (plus `recipe` overrides)."""
    register_tiny()
    request = RunRequest(dataset="tiny", model=model, forget=forget, seed=seed, device=device, cache_dir=cache_dir,
                         recipe={**TINY_RECIPE, **recipe})
    return prepare_setting(request)


class MethodCheckError(AssertionError):
    """A method broke a rule of the contract; the message names the method and the rule."""


def _fail(method: Method, rule: str, detail: str) -> MethodCheckError:
    return MethodCheckError(f"{method.name}: rule '{rule}' failed: {detail}")


def _unlearn(method: Method, setting: Setting) -> nn.Module:
    ctx = UnlearnContext.for_method(method, setting, PhaseTimer(setting.data.device))  # its setting guards the test split
    ctx.timer.start()
    try:
        model = method.unlearn(setting.trained("original").model, ctx)
    except HeldOutTestSplitError:
        raise _fail(method, "never reads the test split", "it touched the test split while unlearning") from None
    except DataAccessError as exc:
        raise _fail(method, "reads only declared data", str(exc)) from None
    if not isinstance(model, nn.Module):
        raise _fail(method, "returns a model", f"unlearn returned {type(model).__name__}")
    return model


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def check_method(method: Method, cache_dir: Optional[Path] = None, device: str = "cpu") -> None:
    """Raises MethodCheckError naming the first rule `method` breaks on the tiny dataset (every declared scenario)."""
    cache = Path(cache_dir) if cache_dir is not None else Path(tempfile.mkdtemp(prefix="unlearnbench-check-"))
    cls = type(method)
    if build_config(cls.Config, config_dict(method.cfg), owner=method.name) != method.cfg:
        raise _fail(method, "config round trip", "the Config rebuilt from its own values differs")
    for index, scenario in enumerate(sorted(method.scenarios)):
        setting = tiny_setting(cache, forget=SCENARIO_SPECS[scenario], device=device)
        original = setting.trained("original").model
        model = _unlearn(method, setting)
        shapes = lambda m: [(k, tuple(v.shape)) for k, v in m.state_dict().items()]  # noqa: E731
        if shapes(model) != shapes(original):
            raise _fail(method, "same architecture", f"in {scenario} forgetting the returned model's layers or "
                                                     f"shapes differ from the original's")
        with torch.no_grad():
            if not torch.isfinite(model.eval()(setting.data.x_train)).all():
                raise _fail(method, "finite outputs", f"non-finite logits after {scenario} forgetting")
        if method.role == "method" and all(torch.equal(a, b) for a, b in zip(_weights(model).values(),
                                                                             _weights(original).values())):
            raise _fail(method, "changes the weights", f"the model came back unchanged in {scenario} forgetting")
        if index == 0:
            again = _unlearn(method, dataclasses.replace(setting, _memo={}))
            if not all(torch.equal(a, b) for a, b in zip(_weights(model).values(), _weights(again).values())):
                raise _fail(method, "deterministic for a seed", "two runs with the same seed gave different weights; "
                                                                "draw randomness from ctx.rng")
