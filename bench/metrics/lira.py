"""A per-example likelihood-ratio test between original and retrained shadow models (LiRA-style; not U-LiRA).

LiRA: Carlini et al., "Membership Inference Attacks From First Principles", IEEE S&P 2022 (arXiv:2112.03570).
U-LiRA (Hayes et al., "Inexact Unlearning Needs More Careful Evaluations to Avoid a False Sense of Privacy", 2024,
arXiv:2403.01218) takes as "in" shadows models *unlearned by the method under test*; this test does not: its
shadows are K models trained on all train data ("in", originals) and K trained on retain data ("out"), with
seeds other than the setting's. Per forget-train example a Gaussian is fitted to the logit-scaled true-class
confidence under "in" and under "out" (per-example means, pooled standard deviation: the fixed-variance LiRA
variant for few shadows). The test scores each example by its log-likelihood ratio; the AUC separates the model
under test from the held-out retrained model on the forget examples (0.5: indistinguishable from retraining). It asks
"more original-like or more retrain-like?", not "can an attacker tuned to this method tell?".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from unlearnbench.core.errors import UserError
from unlearnbench.metrics.base import MetricInputs, MetricValue, register_metric

MIN_SHADOWS = 2  # per side: a standard deviation needs two models
LOW_FPR = 0.01  # operating point of the reported true-positive rate


def check_shadow_count(count: int) -> None:
    """Raises UserError unless `count` is 0 (off) or enough shadow models per side for a standard deviation."""
    if count and count < MIN_SHADOWS:
        raise UserError(f"--mia-shadows {count} is too few: give 0 (off) or at least {MIN_SHADOWS}")


def logit_confidence(logits: Tensor, labels: Tensor) -> Tensor:
    """log(p_y / (1 - p_y)) per row, computed stably as z_y - logsumexp of the other logits."""
    logits = logits.double()
    true = logits.gather(1, labels.view(-1, 1)).squeeze(1)
    others = logits.scatter(1, labels.view(-1, 1), -math.inf)
    return true - others.logsumexp(1)


@dataclass(frozen=True)
class ShadowStats:
    """Gaussian parameters per forget-train example under 'in' and 'out' shadows, and the reference's scores."""

    mu_in: Tensor
    mu_out: Tensor
    sd_in: float
    sd_out: float
    shadows: int  # per side

    def scores(self, confidence: Tensor) -> np.ndarray:
        """Log-likelihood ratio in/out of each example's logit-scaled confidence."""
        def log_normal(x: Tensor, mu: Tensor, sd: float) -> Tensor:
            return -0.5 * ((x - mu) / sd) ** 2 - math.log(sd)

        return (log_normal(confidence, self.mu_in, self.sd_in)
                - log_normal(confidence, self.mu_out, self.sd_out)).cpu().numpy()


def fit_shadows(in_conf: list[Tensor], out_conf: list[Tensor]) -> ShadowStats:
    """Per-example means and pooled standard deviations from each side's shadow confidences."""
    if min(len(in_conf), len(out_conf)) < MIN_SHADOWS:
        raise ValueError(f"LiRA needs at least {MIN_SHADOWS} shadow models per side")
    ins, outs = torch.stack(in_conf), torch.stack(out_conf)  # (K, n)
    pooled = lambda s: max(float((s - s.mean(0)).square().sum() / (s.numel() - s.shape[1])) ** 0.5, 1e-6)  # noqa: E731
    return ShadowStats(ins.mean(0), outs.mean(0), pooled(ins), pooled(outs), len(in_conf))


def attack_summary(target: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """ROC-AUC and TPR at 1 % FPR of telling the target's scores (positive) from the reference's (negative)."""
    from sklearn.metrics import roc_auc_score, roc_curve  # scikit-learn loads on first scoring, not at start-up

    labels = np.r_[np.ones(len(target)), np.zeros(len(reference))]
    scores = np.r_[target, reference]
    fpr, tpr, _ = roc_curve(labels, scores)
    return {"lira_auc": float(roc_auc_score(labels, scores)), "lira_tpr_at_1fpr": float(tpr[fpr <= LOW_FPR].max())}


@register_metric("lira", needs=("shadows",), produces=(
    MetricValue("lira_auc", "shadow LRT AUC", "original/retrain shadow likelihood-ratio test (not U-LiRA): AUC "
                "against the retrained model on the forget examples (0.5 ideal)",
                better="closer_to_retrain", group="privacy", unit="rate"),
    MetricValue("lira_tpr_at_1fpr", "shadow LRT TPR@1%FPR", "original/retrain shadow likelihood-ratio test: "
                "true-positive rate at 1 % false positives",
                better="closer_to_retrain", group="privacy", unit="rate"),
))
def lira(inputs: MetricInputs) -> dict[str, float]:
    """Can a per-example original/retrain likelihood-ratio test tell this model from the retrained one?"""
    out = inputs.outputs
    stats: ShadowStats = inputs.shadows
    target = stats.scores(logit_confidence(out.logits("forget_train"), out.labels("forget_train")))
    ref = inputs.reference_outputs
    reference = stats.scores(logit_confidence(ref.logits("forget_train"), ref.labels("forget_train")))
    return attack_summary(target, reference)
