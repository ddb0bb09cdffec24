"""Every built-in method that declares a plain loop, on digits/mlp and MNIST/mlp: harness vs plain DataLoader code."""
from __future__ import annotations

import pytest
import torch

from conftest_paths import HAVE_MNIST, MNIST_ROOT
from helpers import context
from unlearnbench.core.method import METHODS
from unlearnbench.core.plugins import load_plugins
from unlearnbench.execution.runner import RunRequest, prepare_setting
from unlearnbench.timing.threads import cpu_threads

load_plugins()
from bench_scope import SMALLEST

SETTINGS = [("digits", "0")] + ([] if SMALLEST else [("mnist", "0"), ("mnist", "0,2")])
TIMED = [name for name in METHODS.names() if METHODS.get(name).plain_loop is not None]
ROUNDS = {"retrain": 2}  # a whole training run per round


@pytest.fixture(scope="module", params=SETTINGS, ids=lambda p: f"{p[0]}-forget{p[1]}")
def setting(request):
    dataset, forget = request.param
    if dataset == "mnist" and not HAVE_MNIST:
        pytest.skip(f"MNIST files not found under {MNIST_ROOT}")
    before = torch.get_num_threads()
    torch.set_num_threads(cpu_threads(dataset, "mlp", before))  # the thread count `unlearnbench run` uses here
    s = prepare_setting(RunRequest(dataset=dataset, model="mlp", forget=forget, device="cpu",
                                   data_root=str(MNIST_ROOT) if dataset == "mnist" else None))
    s.trained("original")
    yield s
    torch.set_num_threads(before)


def _method(name, setting):
    """The method at its authors' defaults: shipped-tuned values change when they are regenerated, which must not
    read as a speed regression (and gradient ascent's values tuned on forget {0} diverge on MNIST {0, 2})."""
    return METHODS.get(name).from_params(model="mlp", dataset=setting.dataset, defaults="paper")


def _group(benchmark, setting, name, load):
    benchmark.group = f"{name}-{setting.dataset}-forget{setting.forget.label}-{load}"


@pytest.mark.parametrize("name", TIMED)
def test_harness(benchmark, setting, name, tmp_path, load):
    _group(benchmark, setting, name, load)
    method = _method(name, setting)
    original_cache = setting.cache
    rounds = iter(range(100))

    def once():
        setting.reset_all_but_original()
        setting.cache = type(original_cache)(tmp_path / str(next(rounds)))  # an empty cache: retrain always trains
        method.unlearn(setting.trained("original").model, context(setting, method.access, name))

    setting.trained("original")  # memoised before the cache is swapped
    try:
        benchmark.pedantic(once, rounds=ROUNDS.get(name, 5), warmup_rounds=1)
    finally:
        setting.cache = original_cache
        setting.reset_all_but_original()


@pytest.mark.parametrize("name", TIMED)
def test_plain_loop(benchmark, setting, name, load):
    _group(benchmark, setting, name, load)
    method = _method(name, setting)
    plain = METHODS.get(name).plain_loop
    benchmark.pedantic(lambda: plain(setting.trained("original").model, method.cfg, setting),
                       rounds=ROUNDS.get(name, 5), warmup_rounds=1)
