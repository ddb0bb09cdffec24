"""One MNIST/mlp training epoch (digits when only the smallest settings run): the harness loop against the
DataLoader(TensorDataset) plain loop."""
from __future__ import annotations

import pytest
import torch

from bench_scope import SMALLEST
from conftest_paths import MNIST_ROOT, needs_mnist
from unlearnbench.data.loading import load_data
from unlearnbench.models.architectures import build_model
from unlearnbench.models.plain import dataloader_epoch, plain_optimizer
from unlearnbench.models.recipes import default_recipe
from unlearnbench.models.training import recipe_optimizer, train_steps


DATASET = "digits" if SMALLEST else "mnist"
needs_data = (lambda test: test) if SMALLEST else needs_mnist


@pytest.fixture(scope="module")
def mnist():
    return load_data(DATASET, torch.device("cpu"), MNIST_ROOT)


def _setup(data):
    recipe = default_recipe(DATASET, "mlp")
    return build_model("mlp", data.input_shape, data.num_classes, seed=0), recipe


@needs_data
def test_harness_epoch(benchmark, mnist, load):
    benchmark.group = f"train-epoch-{DATASET}-mlp-{load}"
    model, recipe = _setup(mnist)
    opt = recipe_optimizer(model.parameters(), recipe, lr_scale=0.1)
    gen = torch.Generator().manual_seed(0)
    benchmark.pedantic(lambda: train_steps(model, mnist.x_train, mnist.y_train, opt, batch_size=recipe.batch_size,
                                           generator=gen), rounds=5, warmup_rounds=1)


@needs_data
def test_plain_dataloader_epoch(benchmark, mnist, load):
    benchmark.group = f"train-epoch-{DATASET}-mlp-{load}"
    model, recipe = _setup(mnist)
    opt = plain_optimizer(model, recipe, lr_scale=0.1)
    benchmark.pedantic(lambda: dataloader_epoch(model, mnist.x_train, mnist.y_train, opt, recipe.batch_size, seed=0),
                       rounds=5, warmup_rounds=1)
