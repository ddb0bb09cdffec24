"""Membership inference: known answers on a model that memorised a random-label forget set vs one that learnt the
same class from other samples (so the attacks are judged on membership, not on whether the class is known)."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from unlearnbench.metrics import MetricInputs, Outputs
from unlearnbench.metrics.mia import entropy, mia_entropy, mia_loss, mia_svc, true_confidence

CLASSES, DIM = 4, 32


def _memorise(x: torch.Tensor, y: torch.Tensor, seed: int) -> nn.Module:
    """An over-parameterised MLP trained until it fits (x, y) exactly."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(DIM, 512), nn.ReLU(), nn.Linear(512, CLASSES)).to(x.device)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(400):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model


@pytest.fixture(scope="module")
def attack_inputs(device):
    """(memorised, unseen): random inputs with random labels, class 0 forgotten, on each device. The unseen model
    trained on the retain rows and on as many other class-0 rows: it knows class 0, just not these samples."""
    g = torch.Generator().manual_seed(0)
    x_train, x_test = torch.randn(600, DIM, generator=g), torch.randn(600, DIM, generator=g)
    y_train, y_test = torch.randint(0, CLASSES, (600,), generator=g), torch.randint(0, CLASSES, (600,), generator=g)
    x_train, x_test, y_train, y_test = (t.to(device) for t in (x_train, x_test, y_train, y_test))
    forget_tr, forget_te = y_train == 0, y_test == 0
    x_other = torch.randn(int(forget_tr.sum()), DIM, generator=g).to(device)  # class-0 rows outside every split
    memorised = _memorise(x_train, y_train, seed=1)
    unseen = _memorise(torch.cat([x_train[~forget_tr], x_other]),
                       torch.cat([y_train[~forget_tr], torch.zeros(len(x_other), dtype=torch.long, device=device)]),
                       seed=1)

    def inputs(model):
        with torch.no_grad():
            lt, le = model(x_train), model(x_test)
        splits = {"forget_train": (lt[forget_tr], y_train[forget_tr]), "retain_train": (lt[~forget_tr], y_train[~forget_tr]),
                  "forget_test": (le[forget_te], y_test[forget_te]), "retain_test": (le[~forget_te], y_test[~forget_te]),
                  "test": (le, y_test)}
        return MetricInputs(model, Outputs(splits), None, None, seed=0)

    return inputs(memorised), inputs(unseen)


def test_entropy_attack_calls_memorised_forget_samples_members(attack_inputs):
    seen, unseen = (mia_entropy(i) for i in attack_inputs)
    assert seen["mia_entropy"] > 0.8 and unseen["mia_entropy"] < 0.5
    assert seen["mia_entropy_auc"] > 0.8 and unseen["mia_entropy_auc"] < 0.65


def test_svc_attack_calls_memorised_forget_samples_members_and_unseen_ones_not(attack_inputs):
    seen, unseen = (mia_svc(i) for i in attack_inputs)
    assert seen["mia_svc"] > 0.8 and unseen["mia_svc"] < 0.3  # one polarity: the share called member


def test_attack_aucs_compare_forget_train_with_held_out_samples_of_the_same_classes(attack_inputs):
    seen, unseen = attack_inputs
    for attack in (mia_svc, mia_entropy, mia_loss):
        name = f"{attack.__name__}_auc"
        assert attack(seen)[name] > 0.8, name
        assert abs(attack(unseen)[name] - 0.5) < 0.12, name  # both sides unseen: chance, not a class difference


def test_loss_attack_separates_only_the_memorised_model(attack_inputs):
    seen, unseen = (mia_loss(i) for i in attack_inputs)
    assert seen["mia_loss"] > 0.8 and seen["mia_loss_auc"] > 0.85
    assert abs(unseen["mia_loss"] - 0.5) < 0.15


def test_the_loss_attacks_folds_follow_the_seed(attack_inputs):
    _, unseen = attack_inputs
    again, other = (mia_loss(dataclasses.replace(unseen, seed=seed)) for seed in (unseen.seed, unseen.seed + 1))
    assert mia_loss(unseen) == again and mia_loss(unseen) != other


def test_svc_feature_is_each_rows_true_class_confidence():
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]]))
    conf = true_confidence(logits, torch.tensor([0, 2]))
    assert conf.tolist() == pytest.approx([0.7, 0.3])  # not a whole column, not log(p)


def test_entropy_feature_is_plain_softmax_entropy():
    assert entropy(torch.zeros(1, 4))[0] == pytest.approx(math.log(4))
    assert entropy(torch.tensor([[100.0, 0.0]]))[0] == pytest.approx(0.0, abs=1e-6)


def test_tiny_forget_sets_give_nan_not_a_crash():
    one = (torch.zeros(1, 3), torch.zeros(1, dtype=torch.long))
    splits = {k: one for k in ("forget_train", "retain_train", "forget_test", "retain_test", "test")}
    assert math.isnan(mia_loss(MetricInputs(None, Outputs(splits), None, None, 0))["mia_loss"])
