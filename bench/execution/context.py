"""The context a method receives: only the data it declared, plus ids, device, rng, timer and checkpoints."""
from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

import torch
from torch import Tensor, nn

from unlearnbench.core.errors import DataAccessError, HeldOutTestSplitError
from unlearnbench.data.augment import Augment
from unlearnbench.execution.artifacts import artifact_key, cached_tensors
from unlearnbench.execution.setting import Setting
from unlearnbench.timing.timer import PhaseTimer

# Declaring the left grants the right too: retain data contains any retain subset; full_train contains all.
_IMPLIED = {"retain": {"retain_subset"}, "forget": {"forget_inputs", "forget_indices"},
            "full_train": {"retain", "retain_subset", "forget", "forget_inputs", "forget_indices"}}

Checkpoint = Callable[[str, nn.Module], None]

# Row orders of the whole train split a method may ask for (`UnlearnContext.full_train`). "split": as stored;
# "by_class": retain rows grouped by class in ascending order, then the forget rows likewise (sub-class forgetting:
# by fine class), within a class as stored (SSD's class and sub-class scripts: `build_retain_forget_sets` walks the
# classes, and `ConcatDataset((retain, forget))` is read unshuffled); "retain_then_forget": retain rows in one random
# order, then the forget rows as stored (SSD's random script: a `random_split` concatenated, read unshuffled);
# "shuffled": every row in one random order. Random orders are drawn from the method's rng.
TRAIN_ORDERS = ("split", "by_class", "retain_then_forget", "shuffled")


class GuardedTestSplit:
    """Stands where the test split was in the setting a method's context holds: any use of it fails the cell."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise HeldOutTestSplitError("the test split is never handed to a method (its metrics are computed after "
                                   "unlearning); use ctx.val() for held-out data")

    __getattr__ = __getitem__ = __len__ = __iter__ = __array__ = _refuse

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        return cls()._refuse()


def without_test_split(setting: Setting) -> Setting:
    """The setting a method's context holds: the same data, models and caches, with the test split guarded."""
    guard = GuardedTestSplit()
    data = dataclasses.replace(setting.data, x_test=guard, y_test=guard, fine_test=guard)
    return dataclasses.replace(setting, data=data, _memo=setting._memo)  # trained models are shared, not retrained


class UnlearnContext:
    """Gatekeeper between one method and one setting's data."""

    def __init__(self, method: str, access: frozenset[str], setting: Setting, timer: PhaseTimer,
                 rng: torch.Generator, on_checkpoint: Optional[Checkpoint] = None, augments: bool = False) -> None:
        self.method = method
        self.access = frozenset(access).union(*(_IMPLIED.get(a, set()) for a in access))
        self.augments = augments
        self._setting = without_test_split(setting)  # the gate: no path from a method to the test split
        self.timer = timer
        self.rng = rng
        self._on_checkpoint = on_checkpoint
        self.logged: dict[str, float] = {}

    forget_classes = property(lambda self: self._setting.forget.classes,
                              doc="Class ids to forget (partial: the partly forgotten classes; random: none).")
    scenario = property(lambda self: self._setting.forget.scenario, doc="The forgetting scenario.")
    num_classes = property(lambda self: self._setting.data.num_classes, doc="Number of classes.")
    device = property(lambda self: self._setting.data.device, doc="Where data and model live.")
    input_shape = property(lambda self: self._setting.data.input_shape, doc="(C, H, W) of one image.")
    recipe = property(lambda self: self._setting.recipe, doc="The original model's training recipe.")
    model_name = property(lambda self: self._setting.model, doc="The model family's registry name (e.g. 'mlp').")

    @property
    def normalisation(self) -> tuple[Tensor, Tensor]:
        """(mean, std), each (1, C, 1, 1) on the device: inputs are (pixel - mean) / std with pixels in [0, 1]."""
        data = self._setting.data
        shape = (1, -1, 1, 1)
        return (torch.tensor(data.pixel_mean, device=self.device).view(shape),
                torch.tensor(data.pixel_std, device=self.device).view(shape))

    def log(self, name: str, value: float) -> None:
        """Stores `value` in the cell's metrics as `name` (a method's own diagnostic, e.g. an attack's success)."""
        self.logged[name] = float(value)

    @classmethod
    def for_method(cls, method: Any, setting: Setting, timer: PhaseTimer,
                   on_checkpoint: Optional[Checkpoint] = None, stream: str = "method") -> "UnlearnContext":
        """The context the harness gives `method` on `setting`: its declared access and augmentation, and a
        generator of seed stream `stream` (a population member's is "method@i")."""
        return cls(method.name, method.access, setting, timer, setting.generator(stream), on_checkpoint,
                   augments=method.augments)

    @property
    def augment(self) -> Optional[Augment]:
        """The dataset's training augmentation for a method whose reference augments its unlearning data (Method.
        augments); None otherwise, or when the dataset has none or the recipe disables it."""
        if not self.augments or not self._setting.recipe.augment:
            return None
        return self._setting.data.augment

    @property
    def retain_classes(self) -> tuple[int, ...]:
        """Class ids that are kept."""
        return tuple(c for c in range(self.num_classes) if c not in self.forget_classes)

    def _require(self, kind: str) -> None:
        if kind not in self.access:
            declared = ", ".join(sorted(self.access)) or "nothing"
            raise DataAccessError(
                f"method {self.method!r} asked for {kind!r} data but declared only: {declared}; "
                f"add {kind!r} to its `access`"
            )

    def _train(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        data = self._setting.data
        return data.x_train[idx], data.y_train[idx]

    def retain(self) -> tuple[Tensor, Tensor]:
        """All retain-train samples (x, y)."""
        self._require("retain")
        return self._train(self._setting.split.retain_train)

    def forget(self) -> tuple[Tensor, Tensor]:
        """All forget-train samples (x, y)."""
        self._require("forget")
        return self._train(self._setting.split.forget_train)

    def full_train(self, order: str = "split", generator: Optional[torch.Generator] = None
                   ) -> tuple[Tensor, Tensor]:
        """The whole train split (x, y), its rows in `order` (one of TRAIN_ORDERS); random orders draw from
        `generator` (default: the method's rng)."""
        self._require("full_train")
        data = self._setting.data
        if order == "split":
            return data.x_train, data.y_train
        split, generator = self._setting.split, generator or self.rng
        if order == "shuffled":
            return self._train(torch.randperm(len(data.y_train), generator=generator, device=data.y_train.device))
        if order == "retain_then_forget":
            retain = split.retain_train
            mixed = retain[torch.randperm(len(retain), generator=generator, device=retain.device)]
            return self._train(torch.cat([mixed, split.forget_train]))
        if order == "by_class":
            return self._train(torch.cat([self._by_class(split.retain_train), self._by_class(split.forget_train)]))
        raise ValueError(f"unknown train order {order!r}; choose one of {', '.join(TRAIN_ORDERS)}")

    def _by_class(self, idx: Tensor) -> Tensor:
        """`idx` stably sorted by class (by fine class in sub-class forgetting)."""
        data = self._setting.data
        labels = data.fine_train if self.scenario == "subclass" and data.fine_train is not None else data.y_train
        return idx[torch.sort(labels[idx], stable=True).indices]

    def retain_subset(self, per_class: int) -> tuple[Tensor, Tensor]:
        """Up to `per_class` random retain-train samples of every retained class, drawn with `rng`."""
        self._require("retain_subset")
        y = self._setting.data.y_train
        retain = self._setting.split.retain_train
        picks = []
        for cls in self.retain_classes:
            members = retain[y[retain] == cls]
            order = torch.randperm(len(members), generator=self.rng, device=members.device)
            picks.append(members[order[:per_class]])
        return self._train(torch.cat(picks))

    def forget_inputs(self) -> Tensor:
        """The forget-train inputs without their labels (for label-free methods)."""
        self._require("forget_inputs")
        return self._setting.data.x_train[self._setting.split.forget_train]

    def forget_indices(self) -> Tensor:
        """Row indices of the forget samples in the train split (masks, per-sample bookkeeping)."""
        self._require("forget_indices")
        return self._setting.split.forget_train

    def val(self) -> tuple[Tensor, Tensor]:
        """The validation split (x, y): held out from train, never in a reported test metric."""
        self._require("val")
        data = self._setting.data
        if data.x_val is None or not len(data.x_val):
            raise DataAccessError(f"method {self.method!r} asked for the validation split, but this setting has none "
                                  f"(recipe val_fraction={self._setting.recipe.val_fraction:g}); use a fraction > 0")
        return data.x_val, data.y_val

    def teacher(self) -> nn.Module:
        """A frozen copy of the original model in eval mode (distillation teachers); never updated."""
        self._require("teacher")
        model = self._setting.trained("original").model.eval()
        return model.requires_grad_(False)

    def random_init(self) -> nn.Module:
        """A fresh model of the setting's architecture, initialised from its own seed stream (never the original's
        or the retrained model's start)."""
        self._require("random_init")
        return self._setting.new_model("random_init")

    def retrained(self, independent: bool = False) -> nn.Module:
        """A model trained from scratch on retain-train with the setting's recipe (cached; its time is booked);
        `independent`: with seed streams of its own, not the reference's (the noise floor)."""
        self._require("retain")
        with self.timer.excluded():
            reference = self._setting.trained("retrain_independent" if independent else "retrain")
        self.timer.record("train", reference.seconds, reference.reused_from)
        return reference.model

    def cached(self, phase: str, params: dict[str, Any], like: dict[str, Tensor],
               compute: Callable[[], dict[str, Tensor]], per_forget_set: bool = True) -> dict[str, Tensor]:
        """`compute()` timed as phase `phase`, or its earlier result for this original model (and, when
        `per_forget_set`, this exact forget set) with the seconds of its first computation booked as reused.

        `params` are the method parameters the result depends on; `like` gives its names, shapes and dtypes."""
        key = artifact_key(self._setting, f"{self.method}.{phase}", params, per_forget_set)
        return cached_tensors(self._setting, self.timer, phase, key, like, compute)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Times the enclosed block as phase `name`."""
        with self.timer.phase(name):
            yield

    def checkpoint(self, name: str, model: nn.Module) -> None:
        """Asks the harness to score `model` now as stage `name` (not counted in the method's time)."""
        if self._on_checkpoint is None:
            return
        with self.timer.excluded():
            self._on_checkpoint(name, model)
