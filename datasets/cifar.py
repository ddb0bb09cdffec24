"""CIFAR-10 and CIFAR-100 (32x32 colour) from torchvision's on-disk layout, trained with crop + flip."""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Optional, Sequence

import torch

from unlearnbench.data.loading import RawSplits, register_dataset
from unlearnbench.datasets.torchvision_files import open_split


CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def _chw(array) -> torch.Tensor:
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


def coarse_map(fine: Sequence[int], coarse: Sequence[int]) -> tuple[int, ...]:
    """Fine class -> coarse class from per-sample (fine, coarse) label pairs; a fine class in two coarse ones is an
    error (the files are not CIFAR-100's)."""
    pairs = dict(zip(fine, coarse))
    if len(set(zip(fine, coarse))) != len(pairs) or sorted(pairs) != list(range(len(pairs))):
        raise ValueError("fine and coarse labels do not form a map of fine classes 0..N-1")
    return tuple(pairs[f] for f in range(len(pairs)))


def _cifar20(train: object) -> tuple[int, ...]:
    """CIFAR-100's official 20 superclasses (CIFAR-20, as SSD's Cifar20 uses), read from the train file's
    coarse labels (torchvision keeps only the fine ones)."""
    with open(Path(train.root) / train.base_folder / train.train_list[0][0], "rb") as handle:
        entry = pickle.load(handle, encoding="latin1")
    return coarse_map(entry["fine_labels"], entry["coarse_labels"])


def _load(class_name: str, label: str, root: Optional[Path], download: bool, classes: int,
          mean: tuple[float, ...], std: tuple[float, ...], superclasses: bool = False) -> RawSplits:
    train = open_split(class_name, label, root, True, download)
    test = open_split(class_name, label, root, False, download)
    return RawSplits(
        x_train=_chw(train.data),
        y_train=torch.tensor(train.targets, dtype=torch.long),
        x_test=_chw(test.data),
        y_test=torch.tensor(test.targets, dtype=torch.long),
        num_classes=classes,
        scale=255.0,
        mean=mean,
        std=std,
        augment="crop_flip",
        superclass_of=_cifar20(train) if superclasses else None,
    )


@register_dataset("cifar10", classes=10)
def load_cifar10(root: Optional[Path], download: bool) -> RawSplits:
    """CIFAR-10: 50,000 train / 10,000 test; files under ROOT/cifar-10-batches-py."""
    return _load("CIFAR10", "CIFAR-10", root, download, 10, CIFAR10_MEAN, CIFAR10_STD)


@register_dataset("cifar100", classes=100, superclasses=True)
def load_cifar100(root: Optional[Path], download: bool) -> RawSplits:
    """CIFAR-100: 50,000 train / 10,000 test; files under ROOT/cifar-100-python."""
    return _load("CIFAR100", "CIFAR-100", root, download, 100,
                 (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), superclasses=True)
