"""Random-pixel stand-ins shaped like real datasets, for speed measurements where the real files are absent.

A method's seconds depend on tensor shapes, counts and the recipe, not on pixel values, so these time exactly like
the datasets they imitate (a GPU machine with no copy of CIFAR-10 can still measure CIFAR-10/resnet18). Models
trained on them are at chance level: their accuracies and privacy scores mean nothing.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from unlearnbench.data.loading import RawSplits, register_dataset
from unlearnbench.datasets.cifar import CIFAR10_MEAN, CIFAR10_STD
from unlearnbench.datasets.mnist import MNIST_MEAN, MNIST_STD

SEED = 0  # fixed: the same pixels on every machine


def random_splits(n_train: int, n_test: int, shape: tuple[int, int, int], classes: int, mean: tuple[float, ...],
                  std: tuple[float, ...], augment: Optional[str] = None) -> RawSplits:
    """Uniform random uint8 images with balanced, shuffled labels, normalised like the imitated dataset."""
    g = torch.Generator().manual_seed(SEED)

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=g)
        return x, torch.randperm(n, generator=g) % classes

    x_train, y_train = draw(n_train)
    x_test, y_test = draw(n_test)
    return RawSplits(x_train, y_train, x_test, y_test, num_classes=classes, scale=255.0, mean=mean, std=std,
                     augment=augment)


@register_dataset("synthetic_cifar10", classes=10)
def load_synthetic_cifar10(root: Optional[Path], download: bool) -> RawSplits:
    """Random pixels shaped like CIFAR-10 (50,000 / 10,000, 3x32x32, crop + flip): for speed only."""
    return random_splits(50_000, 10_000, (3, 32, 32), 10, CIFAR10_MEAN, CIFAR10_STD, augment="crop_flip")


@register_dataset("synthetic_mnist", classes=10)
def load_synthetic_mnist(root: Optional[Path], download: bool) -> RawSplits:
    """Random pixels shaped like MNIST (60,000 / 10,000, 1x28x28): for speed only."""
    return random_splits(60_000, 10_000, (1, 28, 28), 10, (MNIST_MEAN,), (MNIST_STD,))
