"""The MNIST/mlp reproduction targets meets the targets (real data; slow)."""
from __future__ import annotations

import pytest

from conftest_paths import MNIST_ROOT, needs_mnist
from unlearnbench.execution.runner import RunRequest, run
from unlearnbench.execution.store import open_store

pytestmark = [pytest.mark.slow, needs_mnist]


@pytest.fixture(scope="module", params=[(0,), (0, 2)], ids=["forget0", "forget02"])
def rows(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("repro")
    req = RunRequest(dataset="mnist", model="mlp", methods=("original", "retrain", "unsir"), forget=request.param,
                     device="cpu", data_root=str(MNIST_ROOT), cache_dir=tmp / "cache")
    return {r["method"]: r["metrics"] for r in run(req, open_store(tmp / "out"))}


def test_unsir_forgets_and_keeps_retain_accuracy(rows):
    assert rows["unsir"]["acc_forget_test"] <= 0.01
    assert rows["original"]["acc_retain_test"] - rows["unsir"]["acc_retain_test"] <= 0.04


def test_retrain_forgets_and_keeps_retain_accuracy(rows):
    assert rows["retrain"]["acc_forget_test"] <= 0.01
    assert abs(rows["original"]["acc_retain_test"] - rows["retrain"]["acc_retain_test"]) <= 0.01
