"""A second retrain from scratch with its own seed streams: the noise floor of every setting.

Paper: none (a control). Two models retrained on the same retain set differ by their initialisation and batch
order; how far the second lands from the first (the reference every value is compared with) is the smallest gap a
method can be expected to reach. A method whose gap is not significantly above this row's is indistinguishable
from retraining in this setting.
Authors' code: none; the setting's recipe and trainer, seeded from the streams retrain_independent.init and
retrain_independent.order (unlearnbench.core.seeds). Deviations: none.
"""
from __future__ import annotations

from torch import nn

from unlearnbench.core.method import register_method
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.methods.retrain import Retrain


@register_method("retrain_independent")
class RetrainIndependent(Retrain):
    """Ignores the original and returns a model retrained with seed streams of its own (access and scenarios as
    retrain's)."""

    role = "floor"

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """The independently seeded retrained model (booked as phase 'train')."""
        return ctx.retrained(independent=True)
