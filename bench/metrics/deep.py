"""Opt-in deep metrics (`--deep-metrics`): is the forgotten knowledge gone, or hidden behind the logits?

- Relearn time (SCRUB's `readout_retrain`, Kurmanji et al., NeurIPS 2023): fine-tune a copy on a small seeded sample
  of forget-train and count SGD steps until its forget-train accuracy is back at the original's.
- Retain-only attack ("From Dormant to Deleted", arXiv:2505.22310): forget accuracy after a few steps on retain data
  only.
- Representation probes ("Are we truly forgetting?", arXiv:2503.06991): a linear (logistic) and a k-NN probe on the
  head's input features, fitted on retain-train + forget-train with true labels, scored on forget-test.
- Linear CKA (Kornblith et al., ICML 2019) of those features to the retrained model's on forget-train.
Each is judged, like every metric, against the retrained model's value.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from torch import Tensor, nn

from unlearnbench.data.batches import cycling_batches
from unlearnbench.metrics.base import MetricInputs, MetricValue, register_metric
from unlearnbench.models.inference import accuracy, predict


@dataclass(frozen=True)
class RelearnConfig:
    """The relearning attacks' settings (SCRUB's readout_retrain: a 500-row sample, plain SGD at lr 0.1)."""

    sample: int = 500  # forget-train rows fine-tuned on (readout_retrain: num_samples=500)
    lr: float = 0.1  # plain SGD, no weight decay (readout_retrain: lr=0.1, weight_decay=0)
    batch_size: int = 128  # (the notebook's args.batch_size)
    max_steps: int = 100  # the cap, stored when not reached (all_readouts: epochs=100)
    tolerance: float = 0.01  # "back at the original's level": within this of its forget-train accuracy
    retain_steps: int = 20  # steps of the retain-only attack
    retain_lr: float = 0.01  # its plain-SGD lr


@dataclass(frozen=True)
class ProbeConfig:
    """The representation probes' settings."""

    rows: int = 3000  # train rows the probes are fitted on (forget rows first, then retain, seeded)
    neighbours: int = 5  # k of the k-NN probe
    cka_rows: int = 2000  # forget-train rows the CKA compares


RELEARN = RelearnConfig()
PROBE = ProbeConfig()
_DEEP_SCENARIOS = frozenset({"class", "partial", "subclass"})  # where a forget-test split exists


def _steps(model: nn.Module, x: Tensor, y: Tensor, lr: float, batch_size: int,
           generator: torch.Generator) -> Iterator[None]:
    """Plain-SGD steps on batches cycled through (x, y) in eval mode (SCRUB's run_train_epoch), one per iteration."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    model.eval()
    for idx in cycling_batches(len(x), batch_size, generator, x.device):
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
        yield


def _generator(inputs: MetricInputs, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(inputs.seed)


@register_metric("relearn", needs=("deep",), produces=(
    MetricValue("relearn_steps", "relearn steps", f"SGD steps on {RELEARN.sample} forget-train rows until forget-train "
                f"accuracy is back within {RELEARN.tolerance:.0%} of the original's ({RELEARN.max_steps}: not within "
                f"the cap)", better="closer_to_retrain", group="privacy", unit="number", digits=0),
    MetricValue("relearn_retain_acc", "retain-only attack", f"forget-train accuracy after {RELEARN.retain_steps} "
                f"SGD steps on retain-train only", better="closer_to_retrain", group="privacy", unit="percent",
                digits=2),
))
def relearn(inputs: MetricInputs) -> dict[str, float]:
    """Relearn time on a forget sample, and forget accuracy after a retain-only fine-tune."""
    deep, c = inputs.deep, RELEARN
    x_f, y_f = deep.data["forget_train"]
    x_r, y_r = deep.data["retain_train"]
    g = _generator(inputs, x_f.device)
    target = deep.original_forget_acc - c.tolerance
    sample = torch.randperm(len(x_f), generator=g, device=x_f.device)[:c.sample]
    model = copy.deepcopy(inputs.model).requires_grad_(True)
    count = 0
    if accuracy(predict(model, x_f), y_f) < target:
        for count, _ in enumerate(_steps(model, x_f[sample], y_f[sample], c.lr, c.batch_size, g), start=1):
            if accuracy(predict(model, x_f), y_f) >= target or count >= c.max_steps:
                break
    attacked = copy.deepcopy(inputs.model).requires_grad_(True)
    steps = _steps(attacked, x_r, y_r, c.retain_lr, c.batch_size, g)
    for _ in range(c.retain_steps):
        next(steps)
    return {"relearn_steps": float(count), "relearn_retain_acc": accuracy(predict(attacked, x_f), y_f)}


def features(model: nn.Module, head: nn.Module, x: Tensor) -> Tensor:
    """The head's input on `x` (the penultimate features), in eval mode, flattened per row."""
    kept: list[Tensor] = []
    hook = head.register_forward_pre_hook(lambda m, args: kept.append(args[0].flatten(1)))
    try:
        predict(model, x)
    finally:
        hook.remove()
    return torch.cat(kept).float()


def _probe_rows(inputs: MetricInputs) -> tuple[Tensor, Tensor]:
    """Seeded probe-fitting rows: forget-train first (up to half), the rest from retain-train, as (x, y)."""
    deep = inputs.deep
    (x_f, y_f), (x_r, y_r) = deep.data["forget_train"], deep.data["retain_train"]
    g = _generator(inputs, x_f.device)
    pick_f = torch.randperm(len(x_f), generator=g, device=x_f.device)[:PROBE.rows // 2]
    pick_r = torch.randperm(len(x_r), generator=g, device=x_r.device)[:PROBE.rows - len(pick_f)]
    return torch.cat([x_f[pick_f], x_r[pick_r]]), torch.cat([y_f[pick_f], y_r[pick_r]])


@register_metric("probes", needs=("deep",), produces=(
    MetricValue("probe_forget_acc", "linear probe", "forget-test accuracy of a logistic-regression probe on the "
                "penultimate features (fitted on retain + forget train)", better="closer_to_retrain",
                group="privacy", unit="percent", digits=2, scenarios=_DEEP_SCENARIOS),
    MetricValue("knn_forget_acc", "k-NN probe", f"forget-test accuracy of a {PROBE.neighbours}-NN probe on the "
                "penultimate features", better="closer_to_retrain", group="privacy", unit="percent", digits=2,
                scenarios=_DEEP_SCENARIOS),
))
def probes(inputs: MetricInputs) -> dict[str, float]:
    """Does the forgotten class still separate in the features? Linear and k-NN probes scored on forget-test."""
    deep = inputs.deep
    x_test, y_test = deep.data["forget_test"]
    if inputs.scenario not in _DEEP_SCENARIOS or not len(x_test):  # random forgetting: no forget-test split
        return {"probe_forget_acc": math.nan, "knn_forget_acc": math.nan}
    head = deep.head_of(inputs.model)
    x, y = _probe_rows(inputs)
    fitted = features(inputs.model, head, x).cpu().numpy()
    scaler = StandardScaler().fit(fitted)
    train, test = scaler.transform(fitted), scaler.transform(features(inputs.model, head, x_test).cpu().numpy())
    labels, truth = y.cpu().numpy(), y_test.cpu().numpy()
    linear = LogisticRegression(max_iter=300, random_state=inputs.seed).fit(train, labels)
    knn = KNeighborsClassifier(n_neighbors=PROBE.neighbours).fit(train, labels)
    return {"probe_forget_acc": float(np.mean(linear.predict(test) == truth)),
            "knn_forget_acc": float(np.mean(knn.predict(test) == truth))}


def linear_cka(a: Tensor, b: Tensor) -> float:
    """Linear CKA of two feature matrices over the same rows (1: identical up to rotation and scale)."""
    a = (a - a.mean(0)).double()
    b = (b - b.mean(0)).double()
    cross = (b.t() @ a).square().sum()
    norm = (a.t() @ a).square().sum().sqrt() * (b.t() @ b).square().sum().sqrt()
    return float(cross / norm) if norm > 0 else math.nan


@register_metric("cka", needs=("deep", "retrained"), produces=(
    MetricValue("cka_to_retrain", "CKA", "linear CKA of the penultimate features to the retrained model's on "
                "forget-train (1: the same representation)", better="higher", group="fidelity", digits=3),
))
def cka(inputs: MetricInputs) -> dict[str, float]:
    """Linear CKA of the model's and the retrained model's features on (a seeded sample of) forget-train."""
    deep = inputs.deep
    x_f, _ = deep.data["forget_train"]
    if len(x_f) < 2:
        return {"cka_to_retrain": math.nan}
    rows = torch.randperm(len(x_f), generator=_generator(inputs, x_f.device), device=x_f.device)[:PROBE.cka_rows]
    ours = features(inputs.model, deep.head_of(inputs.model), x_f[rows])
    theirs = features(inputs.reference, deep.head_of(inputs.reference), x_f[rows])
    return {"cka_to_retrain": linear_cka(ours, theirs)}
