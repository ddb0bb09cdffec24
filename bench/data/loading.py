"""Datasets as tensors: the dataset registry, raw uint8 splits, and device-resident normalised splits."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import Tensor

from unlearnbench.core.errors import UserError
from unlearnbench.core.registry import Registry
from unlearnbench.data.augment import AUGMENTATIONS, Augment

DATA_ENV = "UNLEARNBENCH_DATA"
# Superclasses of the ten-digit datasets for sub-class forgetting: digit // 2 (a convention of this project; no
# published benchmark defines one for digits).
DIGIT_PAIRS = tuple(d // 2 for d in range(10))
SUBSET_SEED = 0  # the train subset of the privacy-stress setting is the same for every seed and method
VAL_SEED = 0  # the validation split is the same for every seed, method and machine


@dataclass(frozen=True)
class RawSplits:
    """A dataset as loaded from disk: integer pixels on the CPU plus how to normalise them."""

    x_train: Tensor  # uint8 (N, C, H, W)
    y_train: Tensor  # int64 (N,)
    x_test: Tensor
    y_test: Tensor
    num_classes: int
    scale: float  # pixel value that maps to 1.0
    mean: tuple[float, ...]  # per channel, after scaling
    std: tuple[float, ...]
    augment: Optional[str] = None  # name in AUGMENTATIONS used for training, if any
    superclass_of: Optional[tuple[int, ...]] = None  # fine class -> superclass, for sub-class forgetting


@dataclass(frozen=True)
class Data:
    """Normalised train/test tensors resident on one device."""

    name: str
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    num_classes: int
    augment: Optional[Augment]
    superclass_of: Optional[tuple[int, ...]] = None  # fine class -> superclass, where the dataset declares one
    pixel_mean: tuple[float, ...] = (0.0,)  # per channel: x = (pixel - mean) / std, pixels in [0, 1]
    pixel_std: tuple[float, ...] = (1.0,)
    fine_train: Optional[Tensor] = None  # fine labels, once relabelled to superclasses (sub-class forgetting)
    fine_test: Optional[Tensor] = None
    x_val: Optional[Tensor] = None  # the validation split held out from train (with_validation)
    y_val: Optional[Tensor] = None
    fine_val: Optional[Tensor] = None  # fine labels of the validation split (sub-class forgetting)

    def with_validation(self, fraction: float, seed: int = VAL_SEED) -> "Data":
        """The data with `fraction` of each class's train samples moved to a validation split (fixed by `seed`)."""
        if fraction <= 0:
            return self
        generator = torch.Generator().manual_seed(seed)
        labels = self.y_train.cpu()
        held = []
        for c in torch.unique(labels).tolist():
            members = (labels == c).nonzero().flatten()
            held.append(members[torch.randperm(len(members), generator=generator)[:round(fraction * len(members))]])
        in_val = torch.zeros(len(labels), dtype=torch.bool)
        in_val[torch.cat(held)] = True
        val, train = in_val.nonzero().flatten().to(self.device), (~in_val).nonzero().flatten().to(self.device)
        return dataclasses.replace(self, x_train=self.x_train[train], y_train=self.y_train[train],
                                   x_val=self.x_train[val], y_val=self.y_train[val])

    @property
    def fine_classes(self) -> Optional[int]:
        """The number of fine classes a sub-class spec may name (None: no superclass map)."""
        return len(self.superclass_of) if self.superclass_of is not None else None

    def as_superclasses(self) -> "Data":
        """The same data labelled by superclass, the fine labels kept for splitting and scoring."""
        if self.superclass_of is None:
            raise UserError(f"{self.name} declares no superclasses: sub-class forgetting needs a superclass map")
        coarse = torch.tensor(self.superclass_of, device=self.device)
        y_val = coarse[self.y_val] if self.y_val is not None else None
        return dataclasses.replace(self, y_train=coarse[self.y_train], y_test=coarse[self.y_test], y_val=y_val,
                                   num_classes=int(coarse.max()) + 1, fine_train=self.y_train, fine_test=self.y_test,
                                   fine_val=self.y_val)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def device(self) -> torch.device:
        """The device the tensors live on."""
        return self.x_train.device

    def train_subset(self, size: int, seed: int = SUBSET_SEED) -> "Data":
        """The same data with the train split cut to a fixed random subset of `size` samples."""
        if not 0 < size <= len(self.y_train):
            raise UserError(f"train_subset={size} must be between 1 and the {len(self.y_train)} train samples of "
                            f"{self.name}")
        generator = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(self.y_train), generator=generator)[:size].sort().values.to(self.device)
        fine = self.fine_train[idx] if self.fine_train is not None else None
        return dataclasses.replace(self, x_train=self.x_train[idx], y_train=self.y_train[idx], fine_train=fine)


Loader = Callable[[Optional[Path], bool], RawSplits]
DATASETS: Registry[Loader] = Registry("dataset", plugins=True)


def register_dataset(name: str, classes: Optional[int] = None, superclasses: bool = False
                     ) -> Callable[[Loader], Loader]:
    """Registers a loader as dataset `name`; `classes` declares its class count and `superclasses` that its splits
    carry a superclass map, so suites can check forget specs without reading the files (undeclared class count:
    read once when a suite is checked)."""

    def decorate(loader: Loader) -> Loader:
        loader.classes = classes  # type: ignore[attr-defined]
        loader.superclasses = superclasses  # type: ignore[attr-defined]
        return DATASETS.register(name)(loader)

    return decorate


def class_count(name: str, root: str | os.PathLike | None = None) -> int:
    """The number of classes of dataset `name`: declared at registration, else read from its files."""
    declared = getattr(DATASETS.get(name), "classes", None)
    return declared if declared is not None else load_raw(name, root).num_classes


def has_superclasses(name: str) -> bool:
    """True when dataset `name` declares a superclass map (sub-class forgetting)."""
    return bool(getattr(DATASETS.get(name), "superclasses", False))


def resolve_data_root(root: str | os.PathLike | None) -> Optional[Path]:
    """The data root from the argument, else the UNLEARNBENCH_DATA variable, else None."""
    value = root if root not in (None, "") else os.environ.get(DATA_ENV) or None
    return Path(value).expanduser() if value is not None else None


def _normalise(x: Tensor, raw: RawSplits, device: torch.device) -> Tensor:
    mean = torch.tensor(raw.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(raw.std, device=device).view(1, -1, 1, 1)
    x = x.to(device, non_blocking=True).float().div_(raw.scale)
    return x.sub_(mean).div_(std).contiguous()


def to_device(name: str, raw: RawSplits, device: torch.device) -> Data:
    """Moves raw integer splits to `device` once and normalises them there."""
    return Data(
        name=name,
        x_train=_normalise(raw.x_train, raw, device),
        y_train=raw.y_train.to(device).long(),
        x_test=_normalise(raw.x_test, raw, device),
        y_test=raw.y_test.to(device).long(),
        num_classes=raw.num_classes,
        augment=AUGMENTATIONS.get(raw.augment) if raw.augment else None,
        superclass_of=raw.superclass_of,
        pixel_mean=tuple(raw.mean),
        pixel_std=tuple(raw.std),
    )


_RAW: dict[tuple[str, str, bool], RawSplits] = {}
_RESIDENT: dict[tuple[str, str, bool, str], Data] = {}


def load_raw(name: str, root: str | os.PathLike | None = None, download: bool = False) -> RawSplits:
    """Reads dataset `name` from its files (once per process), before any normalisation or device transfer.

    Raises:
        UnknownNameError: `name` is not a registered dataset.
        UserError: the files are missing, unreadable or damaged.
    """
    loader = DATASETS.get(name)
    path = resolve_data_root(root)
    if path is not None and not path.is_dir():
        raise UserError(f"data root {str(path)!r} is not a readable directory: pass --data-root DIR or set {DATA_ENV}")
    key = (name, str(path), download)
    if key not in _RAW:
        try:
            _RAW[key] = loader(path, download)
        except UserError:
            raise
        except Exception as exc:  # a truncated or damaged file fails deep inside its reader
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise UserError(f"cannot read {name} under {str(path)!r} ({detail}): its files look damaged; "
                            "fetch them again (--download) or replace them") from None
    return _RAW[key]


def load_data(name: str, device: torch.device, root: str | os.PathLike | None = None, download: bool = False) -> Data:
    """Loads dataset `name` onto `device`, reusing an earlier load in this process.

    Raises:
        UnknownNameError: `name` is not a registered dataset.
        UserError: the files are missing, unreadable or damaged.
    """
    raw = load_raw(name, root, download)
    key = (name, str(resolve_data_root(root)), download, str(device))
    if key not in _RESIDENT:
        _RESIDENT[key] = to_device(name, raw, device)
    return _RESIDENT[key]
