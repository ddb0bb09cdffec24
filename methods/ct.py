"""CT ("confuse by transposing"), a NeurIPS 2023 unlearning-challenge entry: transpose every convolution kernel's
height and width axes, then fine-tune on the retain set.

Paper: Cadet et al., "Deep Unlearn: Benchmarking Machine Unlearning for Image Classification", arXiv:2410.01276
(the challenge's fifth-ranked entry, `kgltop5`, found among the best after tuning); Triantafillou et al.,
arXiv:2406.09073 (the challenge).
Authors' code: xcadet/deepunlearn@6830ff6 `munl/unlearning/kgltop5.py` (`KGLTop5.unlearn`): `rotate_weight` replaces each
Conv2d weight by `weight.swapaxes(2, 3)`; then SGD lr 1e-3, momentum 0.9, weight decay 5e-4 over retain-train for
3 epochs in batches of 64, cosine annealing (T_max = epochs) stepped once per epoch, train mode. The forget set is
never read (`vision_confuser` is defined but unused).
Deviations: the kernels are transposed in place (same module and layout) rather than replaced by new Parameters;
a non-finite loss fails the cell as 'diverged'. On a model without convolutions (mlp) there is nothing to transpose
and CT is its fine-tuning alone, as the authors' code would run it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from unlearnbench.core.config import SGDConfig
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.space import EPOCHS, LEARNING_RATE
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.models.training import cosine_factor, make_optimizer, set_lr, train_epochs


@dataclass(frozen=True)
class CTConfig(SGDConfig):
    """CT hyperparameters (DeepUnlearn's KGLTop5 ORIGINAL_* values)."""

    lr: float = 1e-3  # SGD lr (ORIGINAL_LR)
    epochs: int = 3  # passes over retain-train (ORIGINAL_NUM_EPOCHS)
    momentum: float = 0.9  # (ORIGINAL_MOMENTUM)
    weight_decay: float = 5e-4  # (ORIGINAL_WEIGHT_DECAY)
    batch_size: int = 64  # (ORIGINAL_BATCH_SIZE)


@torch.no_grad()
def transpose_kernels(model: nn.Module) -> int:
    """Swaps the height and width axes of every Conv2d kernel in place; returns how many were transposed."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    for conv in convs:
        conv.weight.copy_(conv.weight.transpose(2, 3).clone())
    return len(convs)


@register_method("ct")
class CT(Method):
    """Transposes the convolution kernels, then fine-tunes on retain-train with a cosine schedule."""

    Config = CTConfig
    search_space = {"lr": LEARNING_RATE, "epochs": EPOCHS}
    access = frozenset({"retain"})
    version = 2  # v2: no augmentation of unlearning data (the authors' loaders have none)
    scenarios = frozenset(SCENARIOS)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Transposes and fine-tunes `model` in place."""
        c = self.cfg
        x, y = ctx.retain()
        with ctx.phase("transpose"):
            transpose_kernels(model)
        opt = make_optimizer(model.parameters(), "sgd", c.lr, c.momentum, c.weight_decay, nesterov=False)
        with ctx.phase("finetune"):
            train_epochs(model, x, y, opt, epochs=c.epochs, batch_size=c.batch_size, generator=ctx.rng,
                         augment=ctx.augment, what="ct fine-tuning",
                         on_epoch=lambda done, total: set_lr(opt, c.lr * cosine_factor(done, total)))
        return model
