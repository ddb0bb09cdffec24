"""Forget specifications and the index sets they induce on the train and test splits."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from unlearnbench.errors import UserError


def parse_forget(text: str) -> tuple[int, ...]:
    """Parses '0' or '0,2' into sorted, distinct class ids."""
    parts = [p.strip() for p in str(text).split(",")]
    if not parts or any(not p.lstrip("-").isdigit() for p in parts):
        raise UserError(f"--forget {text!r} is malformed: give class ids separated by commas, e.g. 0 or 0,2")
    return tuple(sorted({int(p) for p in parts}))


def check_forget(classes: tuple[int, ...], num_classes: int, dataset: str) -> None:
    """Raises UserError unless `classes` is a non-empty proper subset of range(num_classes)."""
    bad = [c for c in classes if not 0 <= c < num_classes]
    if bad:
        raise UserError(f"forget class {bad[0]} is out of range: {dataset} has classes 0..{num_classes - 1}")
    if not classes:
        raise UserError("the forget set is empty: give at least one class, e.g. --forget 0")
    if len(classes) >= num_classes:
        raise UserError(f"cannot forget every class of {dataset}: leave at least one of 0..{num_classes - 1}")


@dataclass(frozen=True)
class Split:
    """Index tensors (on the data's device) of the forget/retain parts of train and test."""

    forget_train: Tensor
    retain_train: Tensor
    forget_test: Tensor
    retain_test: Tensor


def split_by_classes(y_train: Tensor, y_test: Tensor, classes: tuple[int, ...]) -> Split:
    """Splits train and test indices into the forgotten classes and the rest."""
    forget = torch.tensor(classes, device=y_train.device)
    in_train = torch.isin(y_train, forget)
    in_test = torch.isin(y_test, forget)
    return Split(
        forget_train=in_train.nonzero().flatten(),
        retain_train=(~in_train).nonzero().flatten(),
        forget_test=in_test.nonzero().flatten(),
        retain_test=(~in_test).nonzero().flatten(),
    )
