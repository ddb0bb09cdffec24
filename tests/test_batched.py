"""A population trained as one batched model equals its members trained one by one, to float rounding."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from helpers import tiny_setting
from unlearnbench.core.errors import DivergedError
from unlearnbench.models.architectures import build_model
from unlearnbench.models import batched
from unlearnbench.models.batched import batchable, fit_batched
from unlearnbench.models.training import fit

TOLERANCE = 1e-4  # max |weight difference| after the tiny recipe's 4 epochs (measured: see the test's assert)


def _members(setting, count):
    return [setting.new_model(f"retrain@{i}.init") for i in range(count)]


def _generators(setting, count):
    return [setting.generator(f"retrain@{i}.order") for i in range(count)]


def test_a_member_trained_in_the_batch_equals_the_same_member_trained_alone(tmp_path):
    setting = tiny_setting(tmp_path)
    x, y = setting.data.x_train, setting.data.y_train
    batched = fit_batched(_members(setting, 3), x, y, setting.recipe, _generators(setting, 3))
    alone = [fit(m, x, y, setting.recipe, g) for m, g in zip(_members(setting, 3), _generators(setting, 3))]
    worst = max((a - b).abs().max().item() for m, n in zip(batched, alone)
                for a, b in zip(m.parameters(), n.parameters()))
    assert worst < TOLERANCE
    moved = max((a - b).abs().max().item() for a, b in zip(batched[0].parameters(), _members(setting, 1)[0].parameters()))
    assert moved > 100 * TOLERANCE  # the members did train


def test_members_keep_their_own_initialisation_and_order(tmp_path):
    setting = tiny_setting(tmp_path)
    first, second = fit_batched(_members(setting, 2), setting.data.x_train, setting.data.y_train, setting.recipe,
                                _generators(setting, 2))
    assert not torch.equal(first[1].weight, second[1].weight)


def test_every_built_in_model_stacks_but_one_with_dropout_does_not():
    assert all(batchable(build_model(name, (3, 8, 8), 4, 0)) for name in ("mlp", "cnn", "resnet18", "allcnn"))
    assert not batchable(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(192, 4)))


def test_a_cnn_member_trained_in_the_batch_equals_the_same_member_trained_alone(tmp_path):
    setting = tiny_setting(tmp_path, model="cnn", epochs="2")
    x, y = setting.data.x_train, setting.data.y_train
    batched = fit_batched(_members(setting, 2), x, y, setting.recipe, _generators(setting, 2))
    alone = [fit(m, x, y, setting.recipe, g) for m, g in zip(_members(setting, 2), _generators(setting, 2))]
    assert max((a - b).abs().max().item() for m, n in zip(batched, alone)
               for a, b in zip(m.parameters(), n.parameters())) < TOLERANCE


def test_members_split_into_stacks_on_several_threads_train_as_in_one_stack(tmp_path, monkeypatch):
    setting = tiny_setting(tmp_path)
    x, y = setting.data.x_train, setting.data.y_train
    one = fit_batched(_members(setting, 3), x, y, setting.recipe, _generators(setting, 3), threads=1)
    monkeypatch.setattr(batched, "STACK_MEMBERS", 2)  # stacks of members 0-1 and 2, one thread each
    split = fit_batched(_members(setting, 3), x, y, setting.recipe, _generators(setting, 3), threads=2)
    assert max((a - b).abs().max().item() for m, n in zip(one, split)
               for a, b in zip(m.parameters(), n.parameters())) < TOLERANCE


def test_diverged_members_are_named_by_their_place_in_the_population_whichever_stack_trained_them(tmp_path,
                                                                                                  monkeypatch):
    setting = tiny_setting(tmp_path)
    monkeypatch.setattr(batched, "STACK_MEMBERS", 2)
    recipe = dataclasses.replace(setting.recipe, lr=1e30)
    with pytest.raises(DivergedError, match=r"members \[0, 1\]\); epoch 1 \(members \[2\]\)"):
        fit_batched(_members(setting, 3), setting.data.x_train, setting.data.y_train, recipe,
                    _generators(setting, 3), threads=2)


def test_a_population_is_split_into_near_equal_stacks_of_at_most_the_stack_size():
    assert batched._groups(32, 8) == [(0, 8), (8, 16), (16, 24), (24, 32)]
    assert batched._groups(10, 8) == [(0, 5), (5, 10)] and batched._groups(3, 8) == [(0, 3)]


def test_a_small_population_still_gives_every_thread_a_stack():
    assert batched._groups(8, 8, threads=2) == [(0, 4), (4, 8)] and batched._groups(1, 8, threads=2) == [(0, 1)]


def test_stacks_on_other_threads_train_in_the_callers_autocast_precision(tmp_path, monkeypatch):
    # Regression: autocast is per thread, so stacks trained on pool threads ran in fp32 under a bf16 recipe.
    setting = tiny_setting(tmp_path)
    x, y = setting.data.x_train, setting.data.y_train
    monkeypatch.setattr(batched, "STACK_MEMBERS", 1)
    fp32 = fit_batched(_members(setting, 2), x, y, setting.recipe, _generators(setting, 2), threads=2)
    with torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False):
        bf16 = fit_batched(_members(setting, 2), x, y, setting.recipe, _generators(setting, 2), threads=2)
    # bf16 moved the weights 3.5e-3; two fp32 runs agree within TOLERANCE.
    assert max((a - b).abs().max().item() for m, n in zip(fp32, bf16)
               for a, b in zip(m.parameters(), n.parameters())) > 10 * TOLERANCE


@pytest.mark.parametrize("model", ["resnet18", "allcnn"])
def test_a_batchnorm_member_trained_in_the_stack_equals_the_same_member_trained_alone(tmp_path, model):
    # Two steps (64 rows): BatchNorm nets amplify float rounding as training goes on (resnet18 on this data, one
    # epoch, trained alone on 1 thread against 2: up to 1.3e-3 apart), so the semantics are checked early and tight:
    # each member's own batches, BatchNorm statistics, running averages and optimiser step.
    setting = tiny_setting(tmp_path, model=model, epochs="1")
    x, y = setting.data.x_train[:64], setting.data.y_train[:64]
    stacked = fit_batched(_members(setting, 2), x, y, setting.recipe, _generators(setting, 2), threads=1)
    alone = [fit(m, x, y, setting.recipe, g) for m, g in zip(_members(setting, 2), _generators(setting, 2))]
    for m, n in zip(stacked, alone):  # weights and BatchNorm's running statistics alike
        assert max((a - b).abs().max().item() for a, b in zip(m.state_dict().values(), n.state_dict().values())
                   if a.is_floating_point()) < 1e-5
        assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), n.state_dict().values())
                   if not a.is_floating_point())  # num_batches_tracked
