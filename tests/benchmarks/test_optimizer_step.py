"""The optimiser's share of a step: 200 zero_grad/step pairs on the MNIST mlp's parameters, torch's fused optimiser
against the harness's lean one (same kernel, same results: tests/test_optim.py)."""
from __future__ import annotations

import pytest
import torch

from unlearnbench.models.architectures import build_model
from unlearnbench.models.optim import LeanAdam, LeanSGD

STEPS = 200
KINDS = {"adam": (torch.optim.Adam, LeanAdam, dict(lr=1e-3)),
         "sgd": (torch.optim.SGD, LeanSGD, dict(lr=1e-2, momentum=0.9, weight_decay=5e-4))}


def _steps(params: list[torch.Tensor], grads: list[torch.Tensor], opt: torch.optim.Optimizer) -> None:
    for _ in range(STEPS):
        opt.zero_grad(set_to_none=True)
        for p, g in zip(params, grads):
            p.grad = g
        opt.step()


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("implementation", ["torch", "lean"])
def test_optimizer_steps(benchmark, kind, implementation, load):
    benchmark.group = f"optimizer-step-{kind}-mlp-{load}"
    params = list(build_model("mlp", (1, 28, 28), 10, seed=0).parameters())
    grads = [torch.randn_like(p) * 1e-3 for p in params]
    torch_cls, lean_cls, kwargs = KINDS[kind]
    opt = (torch_cls if implementation == "torch" else lean_cls)(params, fused=True, **kwargs)
    benchmark.pedantic(_steps, args=(params, grads, opt), rounds=5, warmup_rounds=1)
    assert all(torch.isfinite(p).all() for p in params)
