"""Accuracy on each split, as fractions."""
from __future__ import annotations

from unlearnbench.metrics.base import MetricInputs, MetricValue, register_metric
from unlearnbench.models.inference import accuracy


def _accuracy(split: str, label: str, help: str, tier: str, scenarios: tuple[str, ...] | None = None,
              objective: bool = True) -> MetricValue:
    extra = {"scenarios": frozenset(scenarios)} if scenarios else {}
    return MetricValue(f"acc_{split}", label, help, better="closer_to_retrain", group="accuracy", tier=tier,
                       unit="percent", digits=2, objective=objective, **extra)


# In random-sample forgetting the test split has no forget part: forget_test is defined where whole classes (or
# sub-classes) are forgotten.
@register_metric("accuracy", produces=(
    _accuracy("forget_test", "forget test", "accuracy on the forgotten classes' test samples", "primary",
              ("class", "partial", "subclass")),
    _accuracy("retain_test", "retain test", "accuracy on the other classes' test samples", "primary",
              ("class", "partial", "subclass")),
    _accuracy("test", "test", "accuracy on the whole test split", "primary"),
    _accuracy("forget_train", "forget train", "accuracy on the forgotten train samples", "primary"),
    _accuracy("retain_train", "retain train", "accuracy on the retained train samples", "primary",
              objective=False),
))
def accuracies(inputs: MetricInputs) -> dict[str, float]:
    """acc_<split> for forget/retain x train/test and the whole test split."""
    return {f"acc_{split}": accuracy(logits, labels) for split, (logits, labels) in inputs.outputs.splits.items()}
