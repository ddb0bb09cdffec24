"""CIFAR-10 and CIFAR-100 (32x32 colour) from torchvision's on-disk layout, trained with crop + flip."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from unlearnbench.data import RawSplits, register_dataset
from unlearnbench.datasets.torchvision_files import open_split


CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def _chw(array) -> torch.Tensor:
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


def _load(class_name: str, label: str, root: Optional[Path], download: bool, classes: int,
          mean: tuple[float, ...], std: tuple[float, ...]) -> RawSplits:
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
    )


@register_dataset("cifar10", classes=10)
def load_cifar10(root: Optional[Path], download: bool) -> RawSplits:
    """CIFAR-10: 50,000 train / 10,000 test; files under ROOT/cifar-10-batches-py."""
    return _load("CIFAR10", "CIFAR-10", root, download, 10, CIFAR10_MEAN, CIFAR10_STD)


@register_dataset("cifar100", classes=100)
def load_cifar100(root: Optional[Path], download: bool) -> RawSplits:
    """CIFAR-100: 50,000 train / 10,000 test; files under ROOT/cifar-100-python."""
    return _load("CIFAR100", "CIFAR-100", root, download, 100,
                 (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762))
