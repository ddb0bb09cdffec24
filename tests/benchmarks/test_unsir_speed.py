"""UNSIR on MNIST/mlp: the harness implementation against the list + DataLoader reference of the same recipe."""
from __future__ import annotations

import pytest
import torch

from conftest_paths import MNIST_ROOT, needs_mnist
from helpers import context
from reference_loops import unsir_reference
from unlearnbench.methods.unsir import UNSIR
from unlearnbench.runner import RunRequest, prepare_setting

pytestmark = [needs_mnist, pytest.mark.benchmark(group="unsir-mnist-mlp")]


@pytest.fixture(scope="module", params=[(0,), (0, 2)], ids=["forget0", "forget02"])
def setting(request):
    s = prepare_setting(RunRequest(dataset="mnist", model="mlp", forget=request.param, device="cpu",
                                   data_root=str(MNIST_ROOT)))
    s.trained("original")
    return s


def test_harness_unsir(benchmark, setting):
    method = UNSIR.from_params(model="mlp")

    def once():
        ctx = context(setting, method.access, "unsir")
        method.unlearn(setting.trained("original").model, ctx)

    benchmark.pedantic(once, rounds=5, warmup_rounds=1)


def test_reference_unsir(benchmark, setting):
    method = UNSIR.from_params(model="mlp")
    rx, ry = context(setting, method.access).retain_subset(method.cfg.retain_per_class)

    def once():
        unsir_reference(setting.trained("original").model, rx, ry, setting.forget, method.cfg, seed=0)

    benchmark.pedantic(once, rounds=5, warmup_rounds=1)
