"""The evaluation pass and each MIA on MNIST/mlp (digits when only the smallest settings run), each beside a plain
DataLoader-based plain loop."""
from __future__ import annotations

import pytest

from bench_scope import SMALLEST
from conftest_paths import MNIST_ROOT, needs_mnist
from unlearnbench.execution.evaluate import split_outputs
from unlearnbench.execution.runner import RunRequest, prepare_setting
from unlearnbench.metrics import METRICS, MetricInputs, Outputs
from unlearnbench.models.inference import predict
from unlearnbench.models.plain import dataloader_predict

DATASET = "digits" if SMALLEST else "mnist"
pytestmark = [] if SMALLEST else needs_mnist


@pytest.fixture(scope="module")
def setting():
    s = prepare_setting(RunRequest(dataset=DATASET, model="mlp", device="cpu", data_root=str(MNIST_ROOT)))
    s.trained("original")
    return s


@pytest.mark.benchmark(group=f"eval-pass-{DATASET}-mlp")
def test_harness_eval_pass(benchmark, setting):
    model = setting.trained("original").model
    benchmark.pedantic(lambda: (predict(model, setting.data.x_train), predict(model, setting.data.x_test)),
                       rounds=5, warmup_rounds=1)


@pytest.mark.benchmark(group=f"eval-pass-{DATASET}-mlp")
def test_plain_eval_pass(benchmark, setting):
    model = setting.trained("original").model
    benchmark.pedantic(lambda: (dataloader_predict(model, setting.data.x_train),
                                dataloader_predict(model, setting.data.x_test)), rounds=5, warmup_rounds=1)


def _plain_outputs(model, setting) -> Outputs:
    """The per-split outputs computed the plain way: a DataLoader pass per split."""
    data, split = setting.data, setting.split
    splits = {}
    for name, x, y in (("forget_train", data.x_train, data.y_train), ("retain_train", data.x_train, data.y_train),
                       ("forget_test", data.x_test, data.y_test), ("retain_test", data.x_test, data.y_test)):
        idx = getattr(split, name)
        splits[name] = (dataloader_predict(model, x[idx]), y[idx])
    splits["test"] = (dataloader_predict(model, data.x_test), data.y_test)
    return Outputs(splits)


def _time_mia(benchmark, setting, name, outputs):
    """Times metric `name` of the original model on split outputs built by `outputs`."""
    benchmark.group = f"{name}-{DATASET}-mlp"
    model = setting.trained("original").model
    spec = METRICS.get(name)
    benchmark.pedantic(lambda: spec.fn(MetricInputs(model, outputs(model, setting), None, None, 0)),
                       rounds=3, warmup_rounds=1)


@pytest.mark.parametrize("name", ["mia_entropy", "mia_svc", "mia_loss"])
def test_harness_mia(benchmark, setting, name):
    _time_mia(benchmark, setting, name, split_outputs)


@pytest.mark.parametrize("name", ["mia_entropy", "mia_svc", "mia_loss"])
def test_plain_mia(benchmark, setting, name):
    _time_mia(benchmark, setting, name, _plain_outputs)
