"""Accuracy on each split, as fractions."""
from __future__ import annotations

from unlearnbench.metrics.base import MetricInputs, register_metric
from unlearnbench.train import accuracy


@register_metric("accuracy", better="closer_to_retrain",
                 produces=("acc_forget_train", "acc_retain_train", "acc_forget_test", "acc_retain_test", "acc_test"))
def accuracies(inputs: MetricInputs) -> dict[str, float]:
    """acc_<split> for forget/retain x train/test and the whole test split."""
    return {f"acc_{split}": accuracy(logits, labels) for split, (logits, labels) in inputs.outputs.splits.items()}
