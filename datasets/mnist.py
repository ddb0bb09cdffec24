"""MNIST and Fashion-MNIST (28x28 grey) from torchvision's on-disk layout under the data root."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from unlearnbench.data.loading import DIGIT_PAIRS, RawSplits, register_dataset
from unlearnbench.datasets.torchvision_files import open_split


MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def _load(class_name: str, label: str, root: Optional[Path], download: bool, mean: float, std: float,
          superclass_of: Optional[tuple[int, ...]] = None) -> RawSplits:
    train = open_split(class_name, label, root, True, download)
    test = open_split(class_name, label, root, False, download)
    return RawSplits(
        x_train=train.data.unsqueeze(1).contiguous(),
        y_train=train.targets.long(),
        x_test=test.data.unsqueeze(1).contiguous(),
        y_test=test.targets.long(),
        num_classes=10,
        scale=255.0,
        mean=(mean,),
        std=(std,),
        superclass_of=superclass_of,
    )


@register_dataset("mnist", classes=10, superclasses=True)
def load_mnist(root: Optional[Path], download: bool) -> RawSplits:
    """MNIST: 60,000 train / 10,000 test; files under ROOT/MNIST/raw; superclass = digit // 2."""
    return _load("MNIST", "MNIST", root, download, MNIST_MEAN, MNIST_STD, DIGIT_PAIRS)


@register_dataset("fashion_mnist", classes=10)
def load_fashion_mnist(root: Optional[Path], download: bool) -> RawSplits:
    """Fashion-MNIST: 60,000 train / 10,000 test; files under ROOT/FashionMNIST/raw."""
    return _load("FashionMNIST", "Fashion-MNIST", root, download, 0.2860, 0.3530)
