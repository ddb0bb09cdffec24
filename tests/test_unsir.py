"""UNSIR specifics: error-maximising noise, intended labels and counts, zero-glance, eval-mode noise, phases."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import unlearnbench.methods.unsir as unsir_module
from helpers import cell_row, context, spy_on_training, tiny_setting
from unlearnbench.core.errors import ConfigError
from unlearnbench.methods.unsir import UNSIR, noise_error, noise_optimizer

SMALL = {"noise_batch": 8, "noise_copies": 3, "retain_per_class": 20, "noise_steps": 5}


@pytest.fixture(scope="module")
def setting(tmp_path_factory, device):
    return tiny_setting(tmp_path_factory.mktemp("cache"), forget=(0, 2), device=device)


@pytest.fixture
def impair_data(setting, monkeypatch):
    """Runs UNSIR and returns the (x, y) of its impair epoch."""
    calls = spy_on_training(monkeypatch, unsir_module, lambda model, x, y, **_: (x.clone(), y.clone()))
    method = UNSIR.from_params(SMALL)
    method.unlearn(setting.trained("original").model, context(setting, method.access, "unsir"))
    return calls[0]


def test_noise_error_is_minus_the_sum_of_per_class_cross_entropies():
    logits, labels = torch.randn(6, 3), torch.tensor([0, 0, 0, 2, 2, 2])
    expected = -(F.cross_entropy(logits[:3], labels[:3]) + F.cross_entropy(logits[3:], labels[3:]))
    assert torch.allclose(noise_error(logits, labels, groups=2), expected)


def test_noise_error_maximises_the_forget_class_error():
    logits = torch.zeros(2, 3, requires_grad=True)
    noise_error(logits, torch.tensor([0, 0])).backward()
    # Descending this loss lowers the true-class logit: the error on the forget class grows.
    assert (logits.grad[:, 0] > 0).all()


def test_noise_steps_equal_per_class_adam_on_the_papers_objective():
    """Joint noise with the L2 term as Adam weight decay == each class's own Adam on -CE + l2 * mean ||N||^2."""
    cfg = UNSIR.from_params({"noise_batch": 3, "noise_lr": 0.1, "noise_l2": 0.1}).cfg
    weights = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    start = torch.randn(6, 1, 2, 2, generator=torch.Generator().manual_seed(2))
    labels = torch.tensor([0, 0, 0, 2, 2, 2])
    joint = start.clone().requires_grad_(True)
    opt = noise_optimizer(joint, cfg)
    for _ in range(5):
        opt.zero_grad()
        noise_error(joint.flatten(1) @ weights, labels, groups=2).backward()
        opt.step()
    for block in (slice(0, 3), slice(3, 6)):
        own = start[block].clone().requires_grad_(True)
        own_opt = torch.optim.Adam([own], lr=cfg.noise_lr)
        for _ in range(5):
            own_opt.zero_grad()
            paper = -F.cross_entropy(own.flatten(1) @ weights, labels[block]) + cfg.noise_l2 * own.square().sum(
                (1, 2, 3)).mean()
            paper.backward()
            own_opt.step()
        assert torch.allclose(joint.detach()[block], own.detach(), atol=1e-6)


def test_learned_noise_raises_the_forget_class_loss(setting):
    model = setting.trained("original").model
    method = UNSIR.from_params({"noise_batch": 16, "noise_steps": 20})
    ctx = context(setting, method.access)
    noise, labels = method.learn_noise(model, ctx)
    start = torch.randn(noise.shape, generator=torch.Generator().manual_seed(0)).to(noise.device)
    with torch.no_grad():
        assert F.cross_entropy(model(noise), labels) > F.cross_entropy(model(start), labels)


def test_each_noise_batch_keeps_its_own_label(impair_data):
    _, y = impair_data
    per_class = SMALL["noise_batch"] * SMALL["noise_copies"]
    assert (y == 0).sum() == per_class and (y == 2).sum() == per_class  # not everything labelled 0


def test_every_noise_image_enters_every_copy(impair_data):
    x, y = impair_data
    noise = x[: 2 * SMALL["noise_batch"]]
    assert len(torch.unique(noise.flatten(1), dim=0)) == 2 * SMALL["noise_batch"]  # all 8, not 3 (the channels)
    copies = x[: 2 * SMALL["noise_batch"] * SMALL["noise_copies"]].view(SMALL["noise_copies"], *noise.shape)
    assert all(torch.equal(c, noise) for c in copies)


def test_impair_set_holds_no_real_forget_sample(setting, impair_data):
    x, _ = impair_data
    forget_x = setting.data.x_train[setting.split.forget_train].flatten(1)
    assert not (torch.cdist(x.flatten(1), forget_x) < 1e-6).any()


def test_unsir_is_zero_glance():
    assert UNSIR.access == frozenset({"retain_subset"}) and UNSIR().zero_glance


def test_noise_step_leaves_batchnorm_statistics_and_weight_grads_alone(tmp_path, device):
    setting = tiny_setting(tmp_path, model="allcnn", device=device)
    model = setting.new_model().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    UNSIR.from_params({"noise_batch": 4, "noise_steps": 2}).learn_noise(model, context(setting, {"retain_subset"}))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters()) and model.training
    assert all(p.requires_grad for p in model.parameters())


def test_phases_and_stage_metrics_are_reported(setting):
    row = cell_row(setting, UNSIR.from_params(SMALL))
    assert row["status"] == "ok" and set(row["phases"]) == {"noise", "impair", "repair"}
    assert {"acc_forget_test@impair", "acc_retain_test@impair"} <= set(row["metrics"])


@pytest.mark.parametrize("params,message", [
    ({"impair_lr": -0.1}, "impair_lr must be > 0"),
    ({"noise_steps": 0}, "noise_steps must be > 0"),
    ({"noise_lr": "fast"}, "noise_lr must be float"),
    ({"noise_l2": -1}, "noise_l2 must be >= 0"),
])
def test_bad_hyperparameters_are_rejected_before_any_work(params, message):
    with pytest.raises(ConfigError, match=message):
        UNSIR.from_params(params)
