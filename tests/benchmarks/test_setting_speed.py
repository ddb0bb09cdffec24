"""Preparing each scenario's setting (data load, validation split, forget-spec draw) and the tuning objective's
evaluation of one model, on digits and MNIST/mlp (digits only when only the smallest settings run)."""
from __future__ import annotations

import pytest

from bench_scope import SMALLEST
from conftest_paths import HAVE_MNIST, MNIST_ROOT
from unlearnbench.execution.evaluate import val_objective, val_reference
from unlearnbench.execution.runner import RunRequest, prepare_setting

DATASETS = ["digits"] + ([] if SMALLEST else ["mnist"])
FORGET = {"class": "0", "partial": "partial:0@0.5", "random": "random:0.1", "subclass": "subclass:0"}


def _request(dataset: str, forget: str) -> RunRequest:
    if dataset == "mnist" and not HAVE_MNIST:
        pytest.skip(f"MNIST files not found under {MNIST_ROOT}")
    return RunRequest(dataset=dataset, model="mlp", forget=forget, device="cpu", data_root=str(MNIST_ROOT))


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("scenario", list(FORGET))
def test_prepare_setting(benchmark, dataset, scenario):
    benchmark.group = f"prepare-{scenario}-{dataset}"
    request = _request(dataset, FORGET[scenario])
    setting = benchmark.pedantic(prepare_setting, args=(request,), rounds=3, warmup_rounds=1)
    assert len(setting.split.forget_train) > 0 and setting.data.x_val is not None


@pytest.mark.parametrize("dataset", DATASETS)
def test_tuning_objective(benchmark, dataset, tmp_path):
    benchmark.group = f"tuning-objective-{dataset}"
    setting = prepare_setting(_request(dataset, "0"))
    reference = val_reference(setting)  # trains (or loads) both models once, untimed
    model = setting.trained("original").model
    value, _ = benchmark.pedantic(val_objective, args=(model, setting, reference), rounds=3, warmup_rounds=1)
    assert value > 0  # the original is not the retrained model
