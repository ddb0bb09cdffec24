"""Retrain from scratch on the retain data: the gold standard every other method is compared with.

Paper: the exact-unlearning baseline of every unlearning paper (e.g. Bourtoule et al., "Machine Unlearning",
IEEE S&P 2021, arXiv:1912.03817).
Authors' code: none; trains with the setting's own recipe (unlearnbench.models.recipes), seed and trainer.
Deviations: none from the harness's definition (retraining must use the original's recipe, or the gap to it would
measure the recipe). The papers' own retrain runs differ: Unlearn-Sparse retrains 160 epochs at lr 0.1 with steps at
91 and 136 (`unlearn/impl.py`); each setting's recipe is in `unlearnbench.models.recipes`. The model is cached by
the harness (same key scheme as the original, forget classes included), so its reported time is the training time
measured when it was first trained, marked as reused afterwards.
"""
from __future__ import annotations

from typing import Any

from torch import nn

from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.models.plain import dataloader_epoch, plain_optimizer, split_rows


def plain_retrain(model: nn.Module, cfg: Any, setting: Any) -> nn.Module:
    """Training from scratch on retain-train with a DataLoader, the recipe's optimiser and epochs."""
    x, y = split_rows(setting, "retain_train")
    fresh = setting.new_model("retrain.init")
    r = setting.recipe
    opt = plain_optimizer(fresh, r)
    for epoch in range(r.epochs):
        dataloader_epoch(fresh, x, y, opt, r.batch_size, seed=epoch)
    return fresh


@register_method("retrain")
class Retrain(Method):
    """Ignores the original and returns a model trained on retain-train only."""

    plain_loop = staticmethod(plain_retrain)  # timed beside the method by `unlearnbench bench`

    access = frozenset({"retain"})
    scenarios = frozenset(SCENARIOS)
    role = "reference"

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """The retrained reference model (booked as phase 'train')."""
        return ctx.retrained()
