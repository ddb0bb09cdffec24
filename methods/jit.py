"""JiT (Just in Time): zero-shot unlearning by making the model smooth (Lipschitz) around each forget input, using
the forget inputs alone: no labels, no retain data.

Paper: Foster, Fogarty, Schoepf, Öztireli, Brintrup, "Zero-Shot Machine Unlearning at Scale via Lipschitz
Regularization", arXiv:2402.01401.
Authors' code: jwf40/Zeroshot-Unlearning-At-Scale@f7e3f20 `src/lipschitz.py` (`Lipschitz.modify_weight`,
`AddGaussianNoise`) called by `src/forget_full_class_strategies.py` `lipschitz_forgetting`: one pass over the forget
inputs in batches of 128 (in order); for each batch, 25 noisy copies x' = clamp(x + sigma * N(0, 1), min(x), max(x))
(min and max over the whole batch); the loss is the mean over copies of sum_i ||f(x_i) - f(x'_i)|| / ||x_i - x'_i||,
with f(x') under no_grad; plain SGD (no momentum); one step per batch. The model is never put in eval mode, so it
runs in train mode and BatchNorm statistics absorb the noisy inputs. The optimiser's gradients are zeroed once,
before the loop, and never again: each step applies the sum of every batch's gradient so far.
Defaults: only VGG16 and ViT values exist; VGG16's (the CNN) are taken here, per scenario as the authors'
scripts: class-wise sigma 0.5, lr 3e-4, batch 128 (`forget_full_class_main.py`); random sigma 0.01
(`forget_random_main.py:156`); sub-class sigma 0.01 and the forget loader's batch 64 (`forget_subclass_main.py:60,
182`); partial forgetting (no script) takes the class-wise values.
Deviations: the noise comes from the cell's seeded generator; the noisy copies are forwarded one copy of the batch
at a time, as the authors' code does (so BatchNorm sees the same batches). The gradient accumulation is kept
(`accumulate_gradients`, default true); a non-finite loss fails the cell as 'diverged'.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from unlearnbench.core.config import require_positive
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.space import Range
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.models.training import check_epoch, make_optimizer


@dataclass(frozen=True)
class JiTConfig:
    """JiT hyperparameters (the authors' VGG16 class-wise values)."""

    sigma: float = 0.5  # std of the Gaussian input noise (lipschitz_weighting: 0.5 for VGG16, class-wise)
    lr: float = 3e-4  # plain SGD lr (learning_rate: 0.0003 for VGG16)
    samples: int = 25  # noisy copies per batch (n_samples: 25)
    batch_size: int = 128  # (forget_full_class_main.py: -b 128)
    accumulate_gradients: bool = True  # the authors' code never zeroes gradients between batches

    def __post_init__(self) -> None:
        require_positive(self, "sigma", "lr", "samples", "batch_size")


def lipschitz_loss(model: nn.Module, x: Tensor, sigma: float, samples: int, generator: torch.Generator) -> Tensor:
    """Mean over `samples` noisy copies of the summed ratio of output change to input change (JiT's penalty)."""
    out = model(x)
    low, high = x.min(), x.max()
    flat = x.flatten(1)
    total = out.new_zeros(())
    for _ in range(samples):
        noisy = (x + sigma * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)).clamp(low, high)
        with torch.no_grad():
            out_noisy = model(noisy)
        moved = torch.linalg.vector_norm(flat - noisy.flatten(1), dim=1)
        ratio = torch.linalg.vector_norm(out - out_noisy, dim=1) / moved
        total = total + ratio.sum()
    return total / samples


@register_method("jit")
class JiT(Method):
    """Smooths the model around every forget input with one SGD step per batch, from the inputs alone."""

    Config = JiTConfig
    search_space = {"lr": Range(1e-7, 1e-3, log=True), "sigma": Range(0.05, 1.0, log=True)}
    access = frozenset({"forget_inputs"})
    scenarios = frozenset(SCENARIOS)
    scenario_defaults = {"random": {"sigma": 0.01}, "subclass": {"sigma": 0.01, "batch_size": 64}}
    version = 2  # v2: the authors' per-scenario sigma and batch (v1: the class-wise values everywhere)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Runs JiT's single pass on `model` in place."""
        c = self.cfg
        x = ctx.forget_inputs()
        opt = make_optimizer(model.parameters(), "sgd", c.lr, momentum=0.0)
        model.train()  # the authors' code never calls eval()
        opt.zero_grad(set_to_none=True)
        total = torch.zeros((), device=ctx.device)
        with ctx.phase("lipschitz"):
            for xb in x.split(c.batch_size):
                if not c.accumulate_gradients:
                    opt.zero_grad(set_to_none=True)
                loss = lipschitz_loss(model, xb, c.sigma, c.samples, ctx.rng)
                total.add_(loss.detach())
                loss.backward()
                opt.step()
            check_epoch(total, "jit", 1)
        return model
