"""The default recipes reach the foundation's accuracy targets on the validation split, where recipes are judged
(never on test; real data; MNIST slow)."""
from __future__ import annotations

import pytest

from conftest_paths import MNIST_ROOT, needs_mnist
from unlearnbench.execution.runner import RunRequest, prepare_setting
from unlearnbench.models.inference import accuracy, predict


def _val_accuracy(tmp_path, dataset: str, model: str) -> float:
    root = MNIST_ROOT if dataset == "mnist" else None
    setting = prepare_setting(RunRequest(dataset=dataset, model=model, device="cpu", data_root=root,
                                         cache_dir=tmp_path))
    trained = setting.trained("original").model
    return accuracy(predict(trained, setting.data.x_val), setting.data.y_val)


def test_digits_mlp_reaches_95_percent(tmp_path):
    assert _val_accuracy(tmp_path, "digits", "mlp") >= 0.95


@pytest.mark.slow
@needs_mnist
@pytest.mark.parametrize("model,target", [("mlp", 0.975), ("cnn", 0.985)])
def test_mnist_reaches_target(tmp_path, model, target):
    assert _val_accuracy(tmp_path, "mnist", model) >= target
