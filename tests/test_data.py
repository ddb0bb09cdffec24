"""Datasets: the fixed digits split, resident normalised tensors, and clear errors for missing files."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest_paths import MNIST_ROOT, needs_mnist
from unlearnbench.core.errors import UnknownNameError, UserError
from unlearnbench.data.loading import DATASETS, load_data


def test_digits_split_is_fixed_and_stratified():
    raw = DATASETS.get("digits")(None, False)
    assert len(raw.y_train) == 1347 and len(raw.y_test) == 450
    train_share = np.bincount(raw.y_train.numpy()) / len(raw.y_train)
    test_share = np.bincount(raw.y_test.numpy()) / len(raw.y_test)
    assert np.abs(train_share - test_share).max() < 0.01
    again = DATASETS.get("digits")(None, False)
    assert torch.equal(raw.x_test, again.x_test)
    assert raw.x_train.dtype == torch.uint8 and raw.x_train.shape[1:] == (1, 8, 8)


def test_resident_data_is_normalised_on_the_device():
    data = load_data("digits", torch.device("cpu"))
    assert data.x_train.dtype == torch.float32 and data.input_shape == (1, 8, 8)
    assert abs(data.x_train.mean().item()) < 1e-3
    assert abs(data.x_train.std().item() - 1) < 1e-2


def test_second_load_reuses_the_resident_tensors():
    assert load_data("digits", torch.device("cpu")) is load_data("digits", torch.device("cpu"))


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(UnknownNameError, match="Available: .*digits.*mnist"):
        load_data("mnsit", torch.device("cpu"))


def test_torchvision_dataset_without_root_says_how_to_give_one(monkeypatch):
    monkeypatch.delenv("UNLEARNBENCH_DATA", raising=False)
    with pytest.raises(UserError, match="needs a data root: pass --data-root DIR or set UNLEARNBENCH_DATA"):
        load_data("cifar10", torch.device("cpu"))


def test_missing_files_under_root_are_a_user_error(tmp_path):
    with pytest.raises(UserError, match=r"CIFAR-10 could not be read under .*add --download"):
        load_data("cifar10", torch.device("cpu"), root=tmp_path)


def test_root_that_is_not_a_directory_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not a readable directory"):
        load_data("mnist", torch.device("cpu"), root=tmp_path / "absent")


@needs_mnist
def test_mnist_loads_from_the_shared_root():
    data = load_data("mnist", torch.device("cpu"), root=MNIST_ROOT)
    assert data.x_train.shape == (60000, 1, 28, 28) and data.x_test.shape == (10000, 1, 28, 28)
    assert data.num_classes == 10 and data.augment is None


def test_train_subset_is_fixed_and_checked():
    data = load_data("digits", torch.device("cpu"))
    a, b = data.train_subset(100), data.train_subset(100)
    assert len(a.y_train) == 100 and torch.equal(a.x_train, b.x_train) and torch.equal(a.x_test, data.x_test)
    with pytest.raises(UserError, match="train_subset=5000 must be between 1 and the 1347"):
        data.train_subset(5000)


def test_synthetic_cifar10_has_cifar10s_shape_counts_and_augmentation():
    raw = DATASETS.get("synthetic_cifar10")(None, False)
    assert raw.x_train.shape == (50_000, 3, 32, 32) and raw.x_test.shape == (10_000, 3, 32, 32)
    assert raw.x_train.dtype == torch.uint8 and raw.augment == "crop_flip" and raw.num_classes == 10
    assert torch.bincount(raw.y_train).tolist() == [5_000] * 10  # balanced, like the real one


def test_synthetic_data_is_the_same_on_every_load():
    first, second = DATASETS.get("synthetic_mnist")(None, False), DATASETS.get("synthetic_mnist")(None, False)
    assert first.x_train.shape == (60_000, 1, 28, 28)
    assert torch.equal(first.x_train, second.x_train) and torch.equal(first.y_test, second.y_test)


def test_cifar20_map_comes_from_the_files_fine_and_coarse_label_pairs():
    from unlearnbench.datasets.cifar import coarse_map

    assert coarse_map([2, 0, 1, 2, 0], [1, 0, 1, 1, 0]) == (0, 1, 1)
    with pytest.raises(ValueError, match="do not form a map"):
        coarse_map([0, 0, 1], [0, 1, 1])  # fine class 0 in two superclasses


def test_digit_datasets_declare_superclasses_and_fashion_mnist_does_not():
    from unlearnbench.data.loading import DIGIT_PAIRS, has_superclasses

    assert has_superclasses("digits") and has_superclasses("mnist") and has_superclasses("cifar100")
    assert not has_superclasses("fashion_mnist") and DIGIT_PAIRS == (0, 0, 1, 1, 2, 2, 3, 3, 4, 4)
