"""Gradient ascent (NegGrad): maximise the cross-entropy on the forget data for a bounded number of steps.

Paper: Golatkar et al., "Eternal Sunshine of the Spotless Net", CVPR 2020, arXiv:1911.04933 (NegGrad baseline);
recipe as Jia et al., "Model Sparsity Can Simplify Machine Unlearning", NeurIPS 2023 (GA baseline).
Authors' code: OPTML-Group/Unlearn-Sparse, scripts: `--unlearn GA --unlearn_lr 0.0001 --unlearn_epochs 5`
(SGD with heavy-ball momentum 0.9, weight decay 5e-4; no Nesterov, as `unlearn/impl.py` builds it).
Data: shuffled batches of forget-train through the train transform (the authors' `replace_loader_dataset(...,
shuffle=True)` keeps the training dataset's random crop and flip: Unlearn-Sparse dataset.py:549-555, unlearn/GA.py).
Deviations: a step cap (`max_steps`) bounds the work on large forget sets, and a non-finite loss stops the method
with a 'diverged' failure instead of returning a NaN model; batches are the recipe's batch size unless
`batch_size` is set (the authors' code: 256; the recipes of resnet18 and allcnn use 256 too).
"""
from __future__ import annotations

from typing import Any

from dataclasses import dataclass

import torch.nn.functional as F
from torch import nn

from unlearnbench.core.config import require_non_negative, require_positive
from unlearnbench.core.errors import DivergedError
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.space import EPOCHS, LEARNING_RATE
from unlearnbench.data.batches import batches
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.models.plain import plain_sgd_epochs
from unlearnbench.models.training import make_optimizer


@dataclass(frozen=True)
class GradientAscentConfig:
    """Gradient-ascent hyperparameters (Unlearn-Sparse GA defaults)."""

    lr: float = 1e-4  # SGD lr (Unlearn-Sparse: 0.0001)
    epochs: int = 5  # passes over forget-train (Unlearn-Sparse: 5)
    momentum: float = 0.9  # SGD momentum (Unlearn-Sparse)
    nesterov: bool = False  # Unlearn-Sparse's torch.optim.SGD is heavy-ball (unlearn/impl.py): no Nesterov
    weight_decay: float = 5e-4  # L2 penalty (Unlearn-Sparse)
    batch_size: int = 0  # 0: the setting's recipe batch size
    max_steps: int = 10_000  # hard bound on ascent steps, whatever the forget-set size

    def __post_init__(self) -> None:
        require_positive(self, "lr", "epochs", "max_steps")
        require_non_negative(self, "momentum", "weight_decay", "batch_size")


def plain_gradient_ascent(model: nn.Module, cfg: Any, setting: Any) -> nn.Module:
    """Gradient ascent on forget-train with a DataLoader and plain SGD."""
    return plain_sgd_epochs(model, cfg, setting, "forget_train", sign=-1.0)


@register_method("gradient_ascent")
class GradientAscent(Method):
    """SGD on -CE over forget-train, stopped at `max_steps` or on a non-finite loss."""

    plain_loop = staticmethod(plain_gradient_ascent)  # timed beside the method by `unlearnbench bench`

    Config = GradientAscentConfig
    search_space = {"lr": LEARNING_RATE, "epochs": EPOCHS}
    version = 3  # v3: augmented batches as the authors' code; v2: heavy-ball momentum (v1 used Nesterov's)
    access = frozenset({"forget"})
    augments = True
    scenarios = frozenset(SCENARIOS)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Ascends the forget loss in place."""
        c = self.cfg
        x, y = ctx.forget()
        opt = make_optimizer(model.parameters(), "sgd", c.lr, c.momentum, c.weight_decay, c.nesterov)
        model.train()
        steps = 0
        with ctx.phase("ascent"):
            for epoch in range(c.epochs):
                for idx in batches(len(x), c.batch_size or ctx.recipe.batch_size, ctx.rng, ctx.device):
                    xb = x.index_select(0, idx)
                    if ctx.augment is not None:
                        xb = ctx.augment(xb, ctx.rng)
                    loss = F.cross_entropy(model(xb), y.index_select(0, idx))
                    opt.zero_grad(set_to_none=True)
                    (-loss).backward()
                    opt.step()
                    steps += 1
                    if steps >= c.max_steps:
                        break
                # One host sync per epoch: the loss explodes within a few steps once it starts.
                if not bool(loss.isfinite()):
                    raise DivergedError(f"diverged: non-finite loss in ascent epoch {epoch + 1} (step {steps}); "
                                        f"lower gradient_ascent.lr (now {c.lr})")
                if steps >= c.max_steps:
                    break
        return model
