"""Loss-free SSD: SSD's selection and dampening with importances that need no labels.

Paper: Foster, Schoepf, Brintrup, "Loss-Free Machine Unlearning", ICLR 2024 Tiny Paper, arXiv:2402.19308.
Authors' code: if-loops/selective-synaptic-dampening@cdfdc0e README.md "Implementing LFSSD" (lines 21-35): SSD's
`compute_importances` with the loss `torch.norm(out, p="fro", dim=1).pow(2).mean()` (the batch mean of
||f(x)||^2) and the importance accumulated as the gradient's absolute value (`imp += grad.abs()`), not its square;
summed over batches and divided by their number, as SSD's.
Data pipeline: SSD's (`methods/ssd.py`: batch size and row order per scenario as the SSD scripts, which the LFSSD
paper builds on). Deviations: those of `ssd`. Labels never enter the importances: the method declares forget
inputs only and the whole train split (whose labels the `by_class` order reads to arrange rows, as the SSD
scripts' loaders are arranged).
"""
from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.space import Range
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.methods.ssd import SCENARIO_DEFAULTS, SSDConfig, run_ssd


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
    scenario_defaults = SCENARIO_DEFAULTS
    version = 2  # v2: |gradient| as the authors' snippet (v1: its square) and SSD's loaders per scenario

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Dampens `model` in place."""
        return run_ssd(model, ctx, output_norm, self.cfg, labelled=False, magnitude="abs")
