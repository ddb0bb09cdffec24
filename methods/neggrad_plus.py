"""NegGrad+: descend the retain loss and ascend the forget loss in the same step, weighted by alpha.

Paper: Kurmanji, Triantafillou, Hayes, Triantafillou, "Towards Unbounded Machine Unlearning", NeurIPS 2023,
arXiv:2302.09880 (the NegGrad+ baseline).
Authors' code: meghdadk/SCRUB `small_scale_unlearning.ipynb` (`run_neggrad_epoch`), as ported with its constants by
DeepUnlearn (`munl/unlearning/neggradplus.py`, `NegGradPlus.ORIGINAL_*`): each step takes a retain batch and the next
forget batch (the forget batches cycle over one pass of the retain set), loss = alpha * (CE_r + wd/2 * ||theta -
theta_0||^2) - (1 - alpha) * CE_f, SGD lr 0.01 momentum 0.9 without weight decay, 10 epochs, batches of 256, alpha
0.95, the model in eval mode (BatchNorm statistics frozen) throughout.
Deviations:
- DeepUnlearn's constants are the defaults, where the notebook differs: `l2_to_original` (the notebook's
  `l2_penalty` weight) 0.0 (the small-scale runs used 0.1: --set neggrad_plus.l2_to_original=0.1); momentum 0.9
  (the notebook: 0); batches of 256 for both (the notebook: retain 128, forget 64).
- No augmentation, as both authors' loaders.
- A non-finite loss fails the cell as 'diverged' (checked once per epoch) instead of returning a NaN model.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from unlearnbench.core.config import require_non_negative, require_positive
from unlearnbench.core.errors import ConfigError
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.space import EPOCHS, LEARNING_RATE, Range
from unlearnbench.data.batches import batches
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.models.training import check_epoch, l2_penalty, make_optimizer


@dataclass(frozen=True)
class NegGradPlusConfig:
    """NegGrad+ hyperparameters (DeepUnlearn's NegGradPlus.ORIGINAL_* constants)."""

    alpha: float = 0.95  # weight of the retain term; 1 - alpha weighs the forget ascent (ORIGINAL_ALPHA)
    lr: float = 0.01  # SGD lr (ORIGINAL_LR)
    momentum: float = 0.9  # SGD momentum, heavy-ball (ORIGINAL_MOMENTUM)
    epochs: int = 10  # passes over retain-train (ORIGINAL_NUM_EPOCHS)
    batch_size: int = 256  # retain and forget batches (ORIGINAL_BATCH_SIZE)
    l2_to_original: float = 0.0  # wd of the notebook's l2_penalty to the starting weights (DeepUnlearn: 0.0)

    def __post_init__(self) -> None:
        require_positive(self, "lr", "epochs", "batch_size")
        require_non_negative(self, "momentum", "l2_to_original")
        if not 0 <= self.alpha <= 1:
            raise ConfigError(f"neggrad_plus.alpha must lie in [0, 1], got {self.alpha!r}")


@register_method("neggrad_plus")
class NegGradPlus(Method):
    """Retain descent and forget ascent in one loss, in eval mode, for a few epochs."""

    Config = NegGradPlusConfig
    search_space = {"lr": LEARNING_RATE, "epochs": EPOCHS, "alpha": Range(0.5, 1.0)}
    access = frozenset({"retain", "forget"})
    scenarios = frozenset(SCENARIOS)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Runs NegGrad+ on `model` in place."""
        c = self.cfg
        (x_r, y_r), (x_f, y_f) = ctx.retain(), ctx.forget()
        start = [p.detach().clone() for p in model.parameters()] if c.l2_to_original else []
        opt = make_optimizer(model.parameters(), "sgd", c.lr, c.momentum, 0.0, nesterov=False)
        was_training = model.training
        model.eval()  # the authors' code trains in eval mode: BatchNorm statistics stay the original's
        with ctx.phase("neggrad"):
            for epoch in range(c.epochs):
                forget_batches = batches(len(x_f), c.batch_size, ctx.rng, ctx.device)
                total = torch.zeros((), device=ctx.device)
                for step, idx in enumerate(batches(len(x_r), c.batch_size, ctx.rng, ctx.device)):
                    f_idx = forget_batches[step % len(forget_batches)]  # itertools.cycle over the forget batches
                    retain_loss = F.cross_entropy(model(x_r[idx]), y_r[idx])
                    if c.l2_to_original:
                        retain_loss = retain_loss + l2_penalty(list(model.parameters()), start, c.l2_to_original)
                    loss = c.alpha * retain_loss - (1 - c.alpha) * F.cross_entropy(model(x_f[f_idx]), y_f[f_idx])
                    total.add_(loss.detach())
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                check_epoch(total, "neggrad_plus", epoch + 1,
                            f"lower neggrad_plus.lr (now {c.lr:g}) or raise alpha")
        return model.train(was_training)
