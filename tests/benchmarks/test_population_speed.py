"""Training a population of retrained members (unlearnbench.models.batched): as one stacked model against the same
members one by one with the harness's loop, on digits/mlp (`unlearnbench bench --population N` measures larger N)."""
from __future__ import annotations

import pytest

from unlearnbench.execution.runner import RunRequest, prepare_setting
from unlearnbench.execution.setting import member_kind
from unlearnbench.models.batched import fit_batched
from unlearnbench.models.training import fit

MEMBERS = 8
GROUP = f"population-{MEMBERS}-digits-mlp"


@pytest.fixture(scope="module")
def setting():
    return prepare_setting(RunRequest(dataset="digits", model="mlp", forget="random:0.1", device="cpu"))


def _members(setting):
    """Fresh members 0..MEMBERS-1 of the retrained population: their initialisations and batch-order generators."""
    kinds = [member_kind("retrain", i) for i in range(MEMBERS)]
    return ([setting.new_model(f"{kind}.init") for kind in kinds],
            [setting.generator(f"{kind}.order") for kind in kinds])


def _round(setting):
    """pytest-benchmark's untimed setup of one round: fresh members, their generators and the retain rows."""
    rows = setting.split.retain_train
    models, generators = _members(setting)
    return (models, generators, setting.data.x_train[rows], setting.data.y_train[rows], setting), {}


def _as_one_batch(models, generators, x, y, setting):
    fit_batched(models, x, y, setting.recipe, generators, setting.data.augment)


def _one_by_one(models, generators, x, y, setting):
    for model, generator in zip(models, generators):
        fit(model, x, y, setting.recipe, generator, augment=setting.data.augment)


@pytest.mark.benchmark(group=GROUP)
def test_harness_population_as_one_batch(benchmark, setting):
    benchmark.pedantic(_as_one_batch, setup=lambda: _round(setting), rounds=3, warmup_rounds=1)


@pytest.mark.benchmark(group=GROUP)
def test_plain_population_one_by_one(benchmark, setting):
    benchmark.pedantic(_one_by_one, setup=lambda: _round(setting), rounds=3, warmup_rounds=1)
