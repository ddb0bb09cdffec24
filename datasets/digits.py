"""scikit-learn's 8x8 handwritten digits: the embedded default dataset, available offline everywhere."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from unlearnbench.data.loading import DIGIT_PAIRS, RawSplits, register_dataset

TEST_SIZE = 450  # of 1,797 images: 1,347 train / 450 test
SPLIT_SEED = 0  # fixed so every machine gets the same stratified split
PIXEL_MAX = 16.0  # load_digits pixels are integers 0..16


@register_dataset("digits", classes=10, superclasses=True)
def load(root: Optional[Path], download: bool) -> RawSplits:
    """Digits with a fixed stratified 1,347/450 split; `root` and `download` are unused."""
    from sklearn.datasets import load_digits  # scikit-learn loads with the data, not with the plugin list
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = bunch.images.astype(np.uint8)[:, None]  # (1797, 1, 8, 8)
    labels = bunch.target.astype(np.int64)
    train, test = train_test_split(
        np.arange(len(labels)), test_size=TEST_SIZE, stratify=labels, random_state=SPLIT_SEED
    )
    train, test = np.sort(train), np.sort(test)
    scaled = images[train].astype(np.float64) / PIXEL_MAX
    return RawSplits(
        x_train=torch.from_numpy(images[train]),
        y_train=torch.from_numpy(labels[train]),
        x_test=torch.from_numpy(images[test]),
        y_test=torch.from_numpy(labels[test]),
        num_classes=10,
        scale=PIXEL_MAX,
        mean=(float(scaled.mean()),),
        std=(float(scaled.std()),),
        superclass_of=DIGIT_PAIRS,
    )
