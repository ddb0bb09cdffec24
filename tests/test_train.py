"""The resident-tensor training loop and evaluation."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from helpers import make_tiny
from unlearnbench.core.errors import DivergedError
from unlearnbench.data.batches import batches
from unlearnbench.data.loading import to_device
from unlearnbench.models.architectures import build_model
from unlearnbench.models.inference import accuracy, predict
from unlearnbench.models.recipes import Recipe, default_recipe, recipe_identity
from unlearnbench.models.training import fit, make_optimizer, recipe_optimizer, train_steps

RECIPE = Recipe(epochs=5, lr=0.05, batch_size=32)


@pytest.fixture
def tiny(device):
    return to_device("tiny", make_tiny(), torch.device(device))


def _model(tiny):
    return build_model("mlp", tiny.input_shape, tiny.num_classes, seed=0).to(tiny.device)


def _generator(tiny, seed=0):
    return torch.Generator(device=tiny.device).manual_seed(seed)


def _train(tiny, seed=0):
    return fit(_model(tiny), tiny.x_train, tiny.y_train, RECIPE, _generator(tiny, seed))


def test_fit_learns_separable_classes(tiny):
    model = _train(tiny)
    assert accuracy(predict(model, tiny.x_test), tiny.y_test) > 0.9


def test_same_generator_seed_gives_identical_weights(tiny):
    a, b = _train(tiny, seed=1), _train(tiny, seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_batches_cover_every_index_once(device):
    parts = batches(10, 4, torch.Generator(device=device).manual_seed(0), torch.device(device))
    assert [len(p) for p in parts] == [4, 4, 2]
    assert sorted(torch.cat(parts).tolist()) == list(range(10))


def test_predict_restores_training_mode_and_keeps_no_graph(tiny):
    model = _model(tiny).train()
    logits = predict(model, tiny.x_test, batch_size=7)
    assert model.training and not logits.requires_grad and logits.shape == (80, 4)


def test_non_finite_loss_raises_diverged(tiny):
    x = tiny.x_train.clone()
    x[0] = float("nan")
    with pytest.raises(DivergedError, match="epoch 1"):
        fit(_model(tiny), x, tiny.y_train, RECIPE, _generator(tiny))


def test_accuracy_of_empty_split_is_nan():
    assert math.isnan(accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)))


def test_sgd_is_heavy_ball_unless_nesterov_is_asked_for():
    params = [torch.nn.Parameter(torch.zeros(2))]
    assert make_optimizer(params, "sgd", 0.1, momentum=0.9).param_groups[0]["nesterov"] is False
    assert make_optimizer(params, "sgd", 0.1, momentum=0.9, nesterov=True).param_groups[0]["nesterov"] is True
    assert make_optimizer(params, "sgd", 0.1, momentum=0.0, nesterov=True).param_groups[0]["nesterov"] is False


def test_recipes_keep_nesterov_and_their_keys():
    recipe = default_recipe("mnist", "mlp")
    opt = recipe_optimizer([torch.nn.Parameter(torch.zeros(2))], recipe)
    assert recipe.nesterov and opt.param_groups[0]["nesterov"]
    assert "nesterov" not in recipe_identity(recipe)  # stored cells and cached models keep their identity
    assert recipe_identity(default_recipe("mnist", "mlp", {"nesterov": "false"}))["nesterov"] is False


def test_the_loop_takes_a_loss_and_a_hook_between_backward_and_step(tiny):
    model, seen = _model(tiny), []

    def loss(logits, labels, inputs):
        seen.append(len(inputs))
        return -F.cross_entropy(logits, labels)  # ascent, as a method would write it

    def zero_first_layer():  # a gradient mask
        next(model.parameters()).grad.zero_()

    first = next(model.parameters()).detach().clone()
    train_steps(model, tiny.x_train, tiny.y_train, make_optimizer(model.parameters(), "sgd", 0.1), batch_size=100,
                generator=_generator(tiny), loss_fn=loss, before_step=zero_first_layer)
    assert seen == [100, 100, 40] and torch.equal(next(model.parameters()).detach(), first)


@pytest.mark.parametrize("total_steps", [1, 2, 3, 4, 5, 8])
def test_the_one_cycle_schedule_runs_at_any_number_of_steps(total_steps):
    # Regression: exactly 4 steps (e.g. `--recipe epochs=2` on 2 batches per epoch) raised ZeroDivisionError.
    from unlearnbench.models.recipes import Recipe
    from unlearnbench.models.training import recipe_schedule

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    schedule = recipe_schedule(opt, Recipe(epochs=1, batch_size=1, lr=0.1), total_steps)
    rates = []
    for _ in range(total_steps):
        opt.step()
        schedule.step()
        rates.append(opt.param_groups[0]["lr"])
    assert max(rates) <= 0.1 + 1e-12 and all(rate > 0 for rate in rates[:-1])
