"""Distances to the retrained model on forget-train: output divergences and weight distance."""
from __future__ import annotations

import math

import torch

from unlearnbench.metrics.base import MetricInputs, MetricValue, register_metric


def js_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Per-row Jensen-Shannon divergence (natural log, in [0, ln 2]) of two probability matrices."""
    m = 0.5 * (p + q)

    def kl(a: torch.Tensor) -> torch.Tensor:
        # 0 * log 0 = 0; the mixture m is > 0 wherever a is.
        return torch.where(a > 0, a * (a.clamp_min(1e-30).log() - m.clamp_min(1e-30).log()), 0.0).sum(1)

    return (0.5 * kl(p) + 0.5 * kl(q)).clamp_min(0.0)


@register_metric("js_to_retrain", needs=("retrained",), produces=(MetricValue(
    "js_to_retrain", "JS", "Jensen-Shannon divergence to the retrained model on forget-train", better="lower",
    group="fidelity", digits=4, distance_to_retrain=True),))
def js_to_retrain(inputs: MetricInputs) -> dict[str, float]:
    """Mean JS divergence between the model's and the retrained model's softmax on forget-train."""
    p = inputs.outputs.logits("forget_train").double().softmax(1)
    q = inputs.reference_outputs.logits("forget_train").double().softmax(1)
    return {"js_to_retrain": js_divergence(p, q).mean().item() if len(p) else math.nan}


@register_metric("act_dist_to_retrain", needs=("retrained",), produces=(MetricValue(
    "act_dist_to_retrain", "act. dist.", "L2 distance of softmax outputs to the retrained model on forget-train",
    better="lower", group="fidelity", digits=4, distance_to_retrain=True),))
def act_dist_to_retrain(inputs: MetricInputs) -> dict[str, float]:
    """Mean L2 distance between the model's and the retrained model's softmax outputs on forget-train."""
    p = inputs.outputs.logits("forget_train").double().softmax(1)
    q = inputs.reference_outputs.logits("forget_train").double().softmax(1)
    return {"act_dist_to_retrain": (p - q).norm(dim=1).mean().item() if len(p) else math.nan}


@register_metric("weight_dist_to_retrain", needs=("retrained",), produces=(MetricValue(
    "weight_dist_to_retrain", "weight dist.", "L2 distance of the weights to the retrained model", better="lower",
    group="fidelity", digits=2, distance_to_retrain=True),))
def weight_dist_to_retrain(inputs: MetricInputs) -> dict[str, float]:
    """L2 norm of the parameter difference to the retrained model (nan when architectures differ)."""
    ours = dict(inputs.model.named_parameters())
    theirs = dict(inputs.reference.named_parameters())
    if ours.keys() != theirs.keys() or any(ours[k].shape != theirs[k].shape for k in ours):
        return {"weight_dist_to_retrain": math.nan}
    with torch.no_grad():
        total = sum((ours[k].double() - theirs[k].double()).square().sum() for k in ours)
    return {"weight_dist_to_retrain": math.sqrt(float(total))}
