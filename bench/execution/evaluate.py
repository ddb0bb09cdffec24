"""Scoring a model on a setting: per-split outputs, the non-finite guard, and every metric against the reference."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import Tensor, nn

from unlearnbench.core.errors import DivergedError, UserError
from unlearnbench.execution.setting import Progress, Setting
from unlearnbench.metrics import (METRICS, VALUES, DeepInputs, MetricInputs, Outputs, compute_metrics, defined_values,
                                  mean_distance, objective_metrics, setting_summary, summary_metrics)
from unlearnbench.metrics.lira import ShadowStats, check_shadow_count, fit_shadows, logit_confidence
from unlearnbench.models.inference import accuracy, predict
from unlearnbench.models.layouts import head_of

TRAIN_SPLITS = ("forget_train", "retain_train")


def _outputs(model: nn.Module, setting: Setting, x_held: Tensor, y_held: Tensor, forget_held: Tensor,
             retain_held: Tensor) -> Outputs:
    """Outputs on forget/retain train and on a held-out split (test, or val for tuning) under the test names."""
    data, split = setting.data, setting.split
    train_logits = predict(model, data.x_train)
    held_logits = predict(model, x_held)
    splits = {name: (train_logits[getattr(split, name)], data.y_train[getattr(split, name)]) for name in TRAIN_SPLITS}
    splits.update(forget_test=(held_logits[forget_held], y_held[forget_held]),
                  retain_test=(held_logits[retain_held], y_held[retain_held]), test=(held_logits, y_held))
    return Outputs(splits)


def split_outputs(model: nn.Module, setting: Setting) -> Outputs:
    """Logits and labels of `model` on forget/retain x train/test and the whole test split."""
    data, split = setting.data, setting.split
    return _outputs(model, setting, data.x_test, data.y_test, split.forget_test, split.retain_test)


def check_finite(model: nn.Module, outputs: Outputs) -> None:
    """Raises DivergedError when any parameter or logit is NaN or infinite.

    argmax over NaN logits returns class 0, which would fake perfect forgetting; such models are never scored.
    """
    for name, param in model.named_parameters():
        if not torch.isfinite(param).all():
            raise DivergedError(f"diverged: parameter {name} holds NaN/inf")
    for split, (logits, _) in outputs.splits.items():
        if not torch.isfinite(logits).all():
            raise DivergedError(f"diverged: logits on {split} hold NaN/inf")


@dataclass(frozen=True)
class Reference:
    """The retrained model of a setting, its scores, its training time, and each MIA's signal."""

    model: nn.Module
    outputs: Outputs
    metrics: dict[str, float]
    seconds: float
    signal: dict[str, float]
    shadows: Optional[ShadowStats] = None
    seconds_reused_from: Optional[dict[str, Any]] = None  # where `seconds` was measured, when not in this run
    deep: Optional[DeepInputs] = None  # set when the opt-in deep metrics are asked for


def _inputs(model: nn.Module, outputs: Outputs, reference: Optional[Reference], setting: Setting,
            shadows: Optional[ShadowStats] = None, deep: Optional[DeepInputs] = None) -> MetricInputs:
    ref_model, ref_outputs = (reference.model, reference.outputs) if reference else (model, outputs)
    return MetricInputs(model, outputs, ref_model, ref_outputs, setting.stream("evaluation"), shadows,
                        setting.forget.scenario, deep)


def deep_inputs(setting: Setting, original_outputs: Outputs) -> DeepInputs:
    """What the deep metrics read: the split inputs, the model family's head, the original's forget-train accuracy."""
    data, split = setting.data, setting.split
    splits = {"forget_train": (data.x_train[split.forget_train], data.y_train[split.forget_train]),
              "retain_train": (data.x_train[split.retain_train], data.y_train[split.retain_train]),
              "forget_test": (data.x_test[split.forget_test], data.y_test[split.forget_test])}
    return DeepInputs(splits, lambda model: head_of(setting.model, model),
                      accuracy(*original_outputs.splits["forget_train"]))


def train_shadows(setting: Setting, count: int, progress: Optional[Progress] = None) -> ShadowStats:
    """Fits the per-example attack on `count` original and `count` retrained models with other seeds (cached)."""
    check_shadow_count(count)
    idx = setting.split.forget_train
    x, y = setting.data.x_train[idx], setting.data.y_train[idx]
    sides: dict[str, list] = {"original": [], "retrain": []}
    for i in range(1, count + 1):
        shadow = setting.with_seed(setting.seed + i)
        for kind, confidences in sides.items():
            if progress:
                progress(f"shadow {i}/{count}: {kind}")
            confidences.append(logit_confidence(predict(shadow.trained(kind).model, x), y))
    return fit_shadows(sides["original"], sides["retrain"])


def build_reference(setting: Setting, progress: Optional[Progress] = None, shadows: int = 0,
                    deep_metrics: bool = False) -> Reference:
    """Trains (or loads) the retrained model (and shadows) and scores it and the original once per setting."""
    stats = train_shadows(setting, shadows, progress) if shadows else None
    retrained = setting.trained("retrain", progress)
    ref_outputs = split_outputs(retrained.model, setting)
    original = setting.trained("original").model
    orig_outputs = split_outputs(original, setting)
    deep = deep_inputs(setting, orig_outputs) if deep_metrics else None
    ref_metrics = compute_metrics(_inputs(retrained.model, ref_outputs, None, setting, stats, deep))
    partial = Reference(retrained.model, ref_outputs, ref_metrics, retrained.seconds, {}, stats,
                        retrained.reused_from, deep)
    orig_metrics = compute_metrics(_inputs(original, orig_outputs, partial, setting, stats, deep))
    return Reference(retrained.model, ref_outputs, ref_metrics, retrained.seconds,
                     setting_summary(orig_metrics, ref_metrics), stats, retrained.reused_from, deep)


def stage_accuracies(model: nn.Module, setting: Setting) -> dict[str, float]:
    """Accuracies only (cheap), for checkpoints taken mid-method."""
    outputs = split_outputs(model, setting)
    check_finite(model, outputs)
    return defined_values(METRICS.get("accuracy").fn(_inputs(model, outputs, None, setting)),
                          setting.forget.scenario)


def score(model: nn.Module, setting: Setting, reference: Reference, time_s: Optional[float]) -> dict[str, float]:
    """Every metric of `model`, its summaries against the reference, and the setting's MIA signal."""
    outputs = split_outputs(model, setting)
    check_finite(model, outputs)
    metrics = compute_metrics(_inputs(model, outputs, reference, setting, reference.shadows, reference.deep))
    metrics.update(summary_metrics(time_s, reference.seconds))
    metrics.update(reference.signal)
    return metrics


# The tuning objective reads the validation split where scoring reads the test split, under the same split names,
# so every metric function serves both; the names below are how its parts are shown.
VAL_LABELS = {"acc_forget_test": "forget val", "acc_retain_test": "retain val", "acc_test": "val"}


def val_outputs(model: nn.Module, setting: Setting) -> Outputs:
    """Logits and labels on forget/retain train and on the validation split in the test split's place."""
    data = setting.data
    if data.x_val is None or not len(data.x_val):
        raise UserError(f"tuning needs a validation split, but the recipe's val_fraction is "
                        f"{setting.recipe.val_fraction:g}; drop --recipe val_fraction=0")
    labels = data.fine_val if setting.forget.scenario == "subclass" else data.y_val
    return _outputs(model, setting, data.x_val, data.y_val, *setting.forget.held_out_parts(labels))


@dataclass(frozen=True)
class ValReference:
    """The retrained model's validation-side outputs and metrics: what a tuning trial is measured against."""

    model: nn.Module
    outputs: Outputs
    metrics: dict[str, float]


def val_reference(setting: Setting) -> ValReference:
    """The retrained model scored on the validation side, once per setting: what every trial is measured against."""
    retrained = setting.trained("retrain").model
    outputs = val_outputs(retrained, setting)
    inputs = MetricInputs(retrained, outputs, retrained, outputs, setting.stream("evaluation"),
                          scenario=setting.forget.scenario)
    return ValReference(retrained, outputs, compute_metrics(inputs))


def val_metrics(model: nn.Module, setting: Setting, reference: ValReference) -> dict[str, float]:
    """Every metric of `model` on the validation side (the validation split in the test split's place).

    Raises:
        DivergedError: a parameter or logit is NaN or infinite.
    """
    outputs = val_outputs(model, setting)
    check_finite(model, outputs)
    return compute_metrics(MetricInputs(model, outputs, reference.model, reference.outputs,
                                        setting.stream("evaluation"), scenario=setting.forget.scenario))


def val_objective(model: nn.Module, setting: Setting, reference: ValReference) -> tuple[float, dict[str, float]]:
    """The tuning objective val_retrain_gap of `model`, and each part's |difference| to the retrained model.

    Raises:
        DivergedError: a parameter or logit is NaN or infinite.
    """
    return objective_of(val_metrics(model, setting, reference), setting.forget.scenario, reference)


def objective_of(metrics: dict[str, float], scenario: str, reference: ValReference) -> tuple[float, dict[str, float]]:
    """val_retrain_gap of validation-side `metrics`, and each part's |difference| to the retrained model."""
    names = objective_metrics(scenario)
    parts = {VAL_LABELS.get(k, VALUES.get(k).label): abs(metrics[k] - reference.metrics[k]) for k in names
             if k in metrics and k in reference.metrics}
    return mean_distance(metrics, reference.metrics, names), parts
