"""The lean fused optimisers take the same steps as torch's fused ones, bit for bit, in every case they accept."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from unlearnbench.models.optim import LeanAdam, LeanSGD


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))


def _train(model: nn.Module, opt: torch.optim.Optimizer, steps: int = 6, every_step=None) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    for i in range(steps):
        x, y = torch.randn(16, 6, generator=gen), torch.randint(0, 3, (16,), generator=gen)
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        if every_step is not None:
            every_step(i, model, opt)
        opt.step()
    return [p.detach().clone() for p in model.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a, b))


CASES = [
    (torch.optim.Adam, LeanAdam, dict(lr=0.01)),
    (torch.optim.Adam, LeanAdam, dict(lr=0.01, weight_decay=0.1, betas=(0.8, 0.99))),
    (torch.optim.SGD, LeanSGD, dict(lr=0.1, momentum=0.9)),
    (torch.optim.SGD, LeanSGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)),
    (torch.optim.SGD, LeanSGD, dict(lr=0.1, momentum=0.5, dampening=0.1)),
    (torch.optim.SGD, LeanSGD, dict(lr=0.1)),
]


@pytest.mark.parametrize("torch_cls,lean_cls,kwargs", CASES)
def test_lean_steps_equal_torchs_fused_steps(torch_cls, lean_cls, kwargs):
    reference = _model()
    expected = _train(reference, torch_cls(reference.parameters(), fused=True, **kwargs))
    model = _model()
    assert _same(_train(model, lean_cls(model.parameters(), fused=True, **kwargs)), expected)


def test_lean_steps_follow_a_learning_rate_schedule():
    def run(cls) -> list[torch.Tensor]:
        model = _model()
        opt = cls(model.parameters(), lr=0.1, momentum=0.9, fused=True)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=6)
        return _train(model, opt, every_step=lambda i, m, o: scheduler.step() if i else None)

    assert _same(run(LeanSGD), run(torch.optim.SGD))


def test_a_parameter_without_a_gradient_falls_back_to_torchs_step():
    def freeze_head_at_step_3(i, model, opt):
        if i == 3:
            model[2].weight.grad = None

    def run(cls) -> list[torch.Tensor]:
        model = _model()
        return _train(model, cls(model.parameters(), lr=0.01, fused=True), every_step=freeze_head_at_step_3)

    assert _same(run(LeanAdam), run(torch.optim.Adam))


def test_step_hooks_still_run():
    model = _model()
    opt = LeanAdam(model.parameters(), lr=0.01, fused=True)
    calls = []
    opt.register_step_post_hook(lambda *_: calls.append(1))
    _train(model, opt, steps=4)
    assert len(calls) == 4


def test_a_loaded_state_continues_as_torchs_optimiser_would():
    def run(cls) -> list[torch.Tensor]:
        model = _model()
        first = cls(model.parameters(), lr=0.01, fused=True)
        _train(model, first, steps=3)
        second = cls(model.parameters(), lr=0.01, fused=True)
        second.load_state_dict(first.state_dict())
        return _train(model, second, steps=3)

    assert _same(run(LeanAdam), run(torch.optim.Adam))
