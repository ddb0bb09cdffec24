"""Scoring a model on a setting: per-split logits, the non-finite guard, and accuracies."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from unlearnbench.errors import DivergedError
from unlearnbench.setting import Setting
from unlearnbench.train import accuracy, predict

TRAIN_SPLITS = ("forget_train", "retain_train")
TEST_SPLITS = ("forget_test", "retain_test")


def split_outputs(model: nn.Module, setting: Setting) -> dict[str, tuple[Tensor, Tensor]]:
    """(logits, labels) of `model` on forget/retain x train/test."""
    data, split = setting.data, setting.split
    train_logits = predict(model, data.x_train)
    test_logits = predict(model, data.x_test)
    out = {}
    for name in TRAIN_SPLITS:
        idx = getattr(split, name)
        out[name] = (train_logits[idx], data.y_train[idx])
    for name in TEST_SPLITS:
        idx = getattr(split, name)
        out[name] = (test_logits[idx], data.y_test[idx])
    out["test"] = (test_logits, data.y_test)
    return out


def check_finite(model: nn.Module, outputs: dict[str, tuple[Tensor, Tensor]]) -> None:
    """Raises DivergedError when any parameter or logit is NaN or infinite.

    argmax over NaN logits returns class 0, which would fake perfect forgetting; such models are never scored.
    """
    for name, param in model.named_parameters():
        if not torch.isfinite(param).all():
            raise DivergedError(f"diverged: parameter {name} holds NaN/inf")
    for split, (logits, _) in outputs.items():
        if not torch.isfinite(logits).all():
            raise DivergedError(f"diverged: logits on {split} hold NaN/inf")


def accuracies(outputs: dict[str, tuple[Tensor, Tensor]]) -> dict[str, float]:
    """acc_<split> for every split, as fractions."""
    return {f"acc_{name}": accuracy(logits, labels) for name, (logits, labels) in outputs.items()}


def score(model: nn.Module, setting: Setting) -> dict[str, float]:
    """Accuracies of `model` on every split, after the non-finite guard."""
    outputs = split_outputs(model, setting)
    check_finite(model, outputs)
    return accuracies(outputs)
