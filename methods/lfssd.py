"""Loss-free SSD: SSD's selection and dampening with importances that need no labels.

Paper: Foster, Schoepf, Brintrup, "Loss-Free Machine Unlearning", ICLR 2024 Tiny Paper, arXiv:2402.19308.
Reference: the method as METHODS.md states it (SSD with the squared L2 norm of the model's output in place of the
cross-entropy); the authors' LFSSD code was not among the repositories this project could read, so the batch
reduction follows SSD's reference (`methods/ssd.py`): the squared gradient of the batch-mean ||f(x)||^2, averaged
over batches.
Deviations: those of `ssd` (batch order, per-batch mean, no importance cache). Labels never enter: the method
declares forget inputs only, and the whole train split's inputs.
"""
from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

from unlearnbench.context import UnlearnContext
from unlearnbench.forget import SCENARIOS
from unlearnbench.method import Method, register_method
from unlearnbench.methods.ssd import SSDConfig, run_ssd
from unlearnbench.space import Range


def output_norm(logits: Tensor, labels: Optional[Tensor]) -> Tensor:
    """LFSSD's label-free importance loss: the batch mean of ||f(x)||_2^2 (labels are ignored)."""
    return logits.square().sum(1).mean()


@register_method("lfssd")
class LFSSD(Method):
    """SSD on the gradient of the output norm: forgets without ever reading a label."""

    Config = SSDConfig
    search_space = {"alpha": Range(1.0, 100.0, log=True)}
    access = frozenset({"forget_inputs", "full_train"})
    scenarios = frozenset(SCENARIOS)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Dampens `model` in place."""
        c = self.cfg
        full_inputs, _ = ctx.full_train()  # the labels are dropped here: importances use inputs only
        return run_ssd(model, ctx, (ctx.forget_inputs(), None), (full_inputs, None), output_norm, c.alpha,
                       c.dampening, c.batch_size)
