"""SFR-on: interleave retain descent with adaptive, saliency-masked gradient ascent on the forget set.

Paper: Huang, Cheng, Shen, Hu, Sun, Bai, Tao, "Unified Gradient-Based Machine Unlearning with Remain Geometry
Enhancement", NeurIPS 2024, arXiv:2409.19732 (SFR-on: "saliency forgetting in the remain-preserving manifold",
online).
Authors' code: K1nght/Unified-Unlearning-w-Remain-Geometry@36bb7f6 `Classification/unlearn/sfron.py` (`SFRon`, CIFAR-10
10 % values; `scripts/unlearn.sh`: batch size 128):
- mask (`get_weight_saliency_mask`, eval mode): per parameter, F = sum over batches of the squared gradient of the
  batch-mean cross-entropy / the number of batches, on forget-train (F_f) and retain-train (F_r);
  mask = (F_f + 1e-15) / (F_r + 1e-15) >= 1 (th, "gamma" in the paper);
- 1500 iterations, train mode, SGD lr 0.01, momentum 0.9, weight decay 5e-4, lr cosine-annealed over the iterations;
  every 5th iteration (0, 5, ...) first a forget step: loss = -alpha_t * sum_i w_i CE_i with w_i proportional to
  CE_i^-0.5 (lambd 0.5; `AdaptiveLoss`), alpha_t = 25 cosine-annealed over the iterations, gradients multiplied by
  the mask, then clipped to norm 7 (`clip_grad_norm`); then, every iteration, a retain cross-entropy step (no mask,
  no clip). Batches cycle through shuffled forget and retain loaders. Every loader, those of the Fisher passes
  included, reads through the train transform (random crop and flip on CIFAR) and shuffles.
Deviations:
- The two Fisher diagonals (and so the mask) are cached per original model and exact forget set (`ctx.cached`:
  the forget set's rows are in the key), never reused across forget sets; the authors' code saves them to
  `save_path` and silently reloads them when the forget set changes. A cached mask books its first computation's
  seconds as a reused phase, so the stored time is the full cost.
- The authors' EMA of the model has beta = 1, so it never changes anything, and is left out.
- Batch orders come from the cell's seeded generator; a non-finite loss fails the cell as 'diverged' (checked at
  the end, one host sync).
"""
from __future__ import annotations

from dataclasses import dataclass
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unlearnbench.core.config import require_non_negative, require_positive
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.space import LEARNING_RATE, Range
from unlearnbench.data.batches import cycling_batches
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.methods.ssd import cross_entropy, importance
from unlearnbench.models.training import check_epoch, cosine_factor, make_optimizer, set_lr

Mask = dict[str, Tensor]


@dataclass(frozen=True)
class SFRonConfig:
    """SFR-on hyperparameters (the authors' CIFAR-10 10 % values)."""

    lr: float = 0.01  # SGD lr (retain_lr)
    momentum: float = 0.9  # (momentum)
    weight_decay: float = 5e-4  # (weight_decay)
    iterations: int = 1500  # retain steps (n_iters)
    forget_every: int = 5  # a forget step every this many iterations (forget_freq)
    forget_alpha: float = 25.0  # forget-loss weight, cosine-annealed (forget_alpha)
    adaptive_lambda: float = 0.5  # forget samples weighted by CE^-lambda (lambd, "lambda" in the paper)
    max_norm: float = 7.0  # forget-step gradient clip (max_norm)
    threshold: float = 1.0  # saliency mask: F_f / F_r >= threshold (th, "gamma" in the paper)
    batch_size: int = 128  # (scripts/unlearn.sh: batch_size=128)

    def __post_init__(self) -> None:
        require_positive(self, "lr", "iterations", "forget_every", "max_norm", "batch_size")
        require_non_negative(self, "momentum", "weight_decay", "forget_alpha", "adaptive_lambda", "threshold")


def saliency_mask(forget: Mask, retain: Mask, threshold: float) -> Mask:
    """1 where (F_f + 1e-15) / (F_r + 1e-15) >= threshold, else 0."""
    return {name: ((forget[name] + 1e-15) / (retain[name] + 1e-15) >= threshold).float() for name in forget}


def adaptive_cross_entropy(logits: Tensor, labels: Tensor, lam: float) -> Tensor:
    """sum_i w_i CE_i with w proportional to CE^-lambda (normalised to sum 1; weights carry no gradient)."""
    ce = F.cross_entropy(logits, labels, reduction="none")
    coef = 1 / (ce.detach().pow(lam) + 1e-15)
    return (coef / coef.sum() * ce).sum()


@register_method("sfron")
class SFRon(Method):
    """Retain steps every iteration; every few, a masked, clipped, loss-weighted ascent step on forget data."""

    Config = SFRonConfig
    search_space = {"lr": LEARNING_RATE,
                    "forget_alpha": Range(1.0, 50.0, log=True),
                    "iterations": Range(100, 1500, log=True)}
    access = frozenset({"forget", "retain"})
    scenarios = frozenset(SCENARIOS)
    augments = True
    version = 2  # v2: augmented, shuffled Fisher passes and unlearning batches, as the authors' loaders

    @staticmethod
    def _batch(x: Tensor, idx: Tensor, ctx: UnlearnContext) -> Tensor:
        """Rows `idx` of `x`, through the train transform as the authors' loaders give them."""
        return x[idx] if ctx.augment is None else ctx.augment(x[idx], ctx.rng)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Runs SFR-on on `model` in place."""
        c = self.cfg
        (x_f, y_f), (x_r, y_r) = ctx.forget(), ctx.retain()
        like = {name: torch.zeros_like(p) for name, p in model.named_parameters()}

        # The Fisher passes read the authors' shuffled, augmented loaders once each. They draw from a generator
        # seeded from the cell's, so a cached mask leaves the cell's later draws as an uncached run's.
        fisher_seed = int(torch.randint(2 ** 62, (1,), generator=ctx.rng, device=ctx.device))

        def fisher(x: Tensor, y: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
            order = torch.randperm(len(x), generator=generator, device=ctx.device)
            xb = x[order] if ctx.augment is None else ctx.augment(x[order], generator)
            return importance(model, xb, y[order], cross_entropy, c.batch_size)

        def both_fishers() -> dict[str, Tensor]:
            # SFR-on's Fisher is SSD's importance (mean over batches of the squared batch-mean CE gradient), eval mode.
            model.eval()
            generator = torch.Generator(ctx.device).manual_seed(fisher_seed)
            return {**{f"forget.{k}": v for k, v in fisher(x_f, y_f, generator).items()},
                    **{f"retain.{k}": v for k, v in fisher(x_r, y_r, generator).items()}}

        fishers = ctx.cached("fisher", {"batch_size": c.batch_size, "augmented": ctx.augment is not None,
                                        "seed": fisher_seed}, {
            **{f"forget.{k}": v for k, v in like.items()}, **{f"retain.{k}": v for k, v in like.items()}}, both_fishers)
        mask = saliency_mask({k: fishers[f"forget.{k}"] for k in like}, {k: fishers[f"retain.{k}"] for k in like},
                             c.threshold)
        ctx.log("sfron_mask_share", sum(float(m.sum()) for m in mask.values()) / sum(m.numel() for m in mask.values()))
        params = dict(model.named_parameters())
        opt = make_optimizer(params.values(), "sgd", c.lr, c.momentum, c.weight_decay, nesterov=False)
        forget_batches = cycling_batches(len(x_f), c.batch_size, ctx.rng, ctx.device)
        retain_batches = cycling_batches(len(x_r), c.batch_size, ctx.rng, ctx.device)
        total = torch.zeros((), device=ctx.device)
        model.train()
        with ctx.phase("unlearn"):
            for step in range(c.iterations):
                set_lr(opt, c.lr * cosine_factor(step, c.iterations))
                if step % c.forget_every == 0:
                    idx = next(forget_batches)
                    loss = -c.forget_alpha * cosine_factor(step, c.iterations) * adaptive_cross_entropy(
                        model(self._batch(x_f, idx, ctx)), y_f[idx], c.adaptive_lambda)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    for name, p in params.items():
                        if p.grad is not None:
                            p.grad.mul_(mask[name])
                    nn.utils.clip_grad_norm_(params.values(), c.max_norm)
                    opt.step()
                    total.add_(loss.detach())
                idx = next(retain_batches)
                loss = F.cross_entropy(model(self._batch(x_r, idx, ctx)), y_r[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total.add_(loss.detach())
            check_epoch(total, "sfron", 1, "lower forget_alpha or lr")
        return model
