"""The original model, untouched: the 'before unlearning' row of every table.

Paper: none (a baseline). Authors' code: none. Deviations: none.
"""
from __future__ import annotations

from torch import nn

from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.execution.context import UnlearnContext


@register_method("original")
class Original(Method):
    """Returns the model trained on all data, unchanged."""

    access = frozenset()
    scenarios = frozenset(SCENARIOS)
    role = "original"

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Returns `model` as it is."""
        return model
