"""Selective Synaptic Dampening: shrink the parameters far more important to the forget data than to the whole
train set, by how much more.

Paper: Foster, Schoepf, Brintrup, "Fast Machine Unlearning Without Retraining Through Selective Synaptic
Dampening", AAAI 2024, arXiv:2308.07707.
Authors' code: if-loops/selective-synaptic-dampening@cdfdc0e: src/ssd.py (`ParameterPerturber.calc_importance`,
`modify_weight`), src/forget_full_class_strategies.py (`ssd_tuning`), and the data each script feeds it.
In eval mode, importance = the squared gradient of the batch-mean cross-entropy, summed over batches and divided by
the number of batches, on forget-train (I_f) and on the whole train split (I_D). Where I_f > alpha * I_D, each
parameter is multiplied by min(lambda * I_D / I_f, 1) (`exponent` and `lower_bound` are 1 in every run of the authors' scripts);
all other parameters are left bit-identical.
Data pipeline, as the authors' scripts: I_D is read from `DataLoader(ConcatDataset((retain_train, forget_train)),
batch_size)`, unshuffled, and I_f from `DataLoader(forget_train, batch_size)`, unshuffled. Class and sub-class
forgetting (forget_full_class_main.py:58,152-157, forget_subclass_main.py:60,144-150): `-b` 64 (no script passes
another), rows in class order (`build_retain_forget_sets` walks the classes; sub-class: fine classes), forget rows
last: `batch_order="by_class"`, `batch_size=64`. Random forgetting (forget_random_main.py:57,120-136): `-b` 128,
retain rows in `random_split` order then forget rows: `batch_order="retain_then_forget"`, `batch_size=128`. The
squared gradient of each batch's mean loss is not linear in the batch: class-homogeneous batches give a much larger
I_D than mixed ones, so the order decides which weights are dampened (docs/methods.md "SSD's data pipeline").
Deviations:
- Partial forgetting has no script of the authors': it takes the class scripts' pipeline.
- In random forgetting the forget rows are read in the split's order (ascending row index), not a `random_split`
  order; every batch of them is a random mix of classes either way.
- The fork aiden-dm divides the sums by the number of samples, the authors' code by the number of batches; the
  per-batch mean is used.
- I_D is cached per original model, forget set, loss, batch size and order (`ctx.cached`); a run that reuses it
  books the seconds of its first computation as a reused phase, so the stored seconds are always the full cost.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unlearnbench.core.config import require_choice, require_positive
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.space import Range
from unlearnbench.execution.context import UnlearnContext

Importance = dict[str, Tensor]
ImportanceLoss = Callable[[Tensor, Optional[Tensor]], Tensor]  # (logits, labels or None) -> a batch loss


@dataclass(frozen=True)
class SSDConfig:
    """SSD hyperparameters (the authors' ResNet-18 values)."""

    alpha: float = 10.0  # selection weighting: dampen where I_f > alpha * I_D (forget_full_class_main.py: 10)
    dampening: float = 1.0  # lambda: the factor is min(lambda * I_D / I_f, 1) (the authors': 1)
    batch_size: int = 64  # importance batches (forget_full_class_main.py -b 64; random: 128, see SCENARIO_DEFAULTS)
    # Rows of the importance loaders (unlearnbench.execution.context.TRAIN_ORDERS): the class scripts' order by default.
    batch_order: str = "by_class"

    def __post_init__(self) -> None:
        require_positive(self, "alpha", "dampening", "batch_size")
        require_choice(self, "batch_order", BATCH_ORDERS)


BATCH_ORDERS = ("by_class", "retain_then_forget", "shuffled")
# The authors' scripts per scenario (module docstring); partial forgetting has none and keeps the class scripts'.
SCENARIO_DEFAULTS = {"random": {"batch_size": 128, "batch_order": "retain_then_forget"}}


def importance(model: nn.Module, x: Tensor, y: Optional[Tensor], loss_fn: ImportanceLoss,
               batch_size: int, magnitude: str = "square") -> Importance:
    """Per parameter, the mean over batches of the squared (SSD) or, with `magnitude="abs"`, absolute (LFSSD)
    gradient of `loss_fn`."""
    totals = {name: torch.zeros_like(p) for name, p in model.named_parameters()}
    batches = range(0, len(x), batch_size)
    for start in batches:
        model.zero_grad(set_to_none=True)
        labels = y[start:start + batch_size] if y is not None else None
        loss_fn(model(x[start:start + batch_size]), labels).backward()
        for name, p in model.named_parameters():
            if p.grad is not None:
                totals[name] += p.grad.square() if magnitude == "square" else p.grad.abs()
    model.zero_grad(set_to_none=True)
    for total in totals.values():
        total /= max(1, len(batches))
    return totals


def dampen(model: nn.Module, forget: Importance, full: Importance, alpha: float, dampening: float) -> int:
    """Multiplies the parameters where forget > alpha * full by min(dampening * full / forget, 1); returns how many
    were selected."""
    selected = 0
    with torch.no_grad():
        for name, p in model.named_parameters():
            chosen = forget[name] > alpha * full[name]
            factor = (dampening * full[name][chosen] / forget[name][chosen]).clamp(max=1.0)
            p[chosen] = p[chosen] * factor
            selected += int(chosen.sum())
    return selected


def cross_entropy(logits: Tensor, labels: Optional[Tensor]) -> Tensor:
    """SSD's importance loss: the batch-mean cross-entropy."""
    return F.cross_entropy(logits, labels)


def forget_rows(ctx: UnlearnContext, order: str, labelled: bool) -> tuple[Tensor, Optional[Tensor]]:
    """The forget rows as the authors' unshuffled forget loader reads them: by class for `by_class`, else as
    stored; inputs only unless `labelled`."""
    if not labelled:
        return ctx.forget_inputs(), None
    x, y = ctx.forget()
    if order == "by_class":
        rows = torch.sort(y, stable=True).indices
        return x[rows], y[rows]
    return x, y


def run_ssd(model: nn.Module, ctx: UnlearnContext, loss_fn: ImportanceLoss, cfg: SSDConfig,
            labelled: bool = True, magnitude: str = "square") -> nn.Module:
    """Computes both importances in eval mode on the rows the authors' loaders read, and dampens `model` in place
    (shared by SSD and LFSSD, which passes `labelled=False` and `magnitude="abs"`)."""
    was_training = model.training
    model.eval()  # the authors' code computes importances and dampens in eval mode: BatchNorm statistics stay put
    with ctx.phase("importance_forget"):
        forget_imp = importance(model, *forget_rows(ctx, cfg.batch_order, labelled), loss_fn, cfg.batch_size,
                                magnitude)

    # A random order is drawn from a generator seeded from the cell's, and the seed enters the cache key: a cached
    # I_D is reused only for the same draw (population members draw their own).
    order_seed = int(torch.randint(2 ** 62, (1,), generator=ctx.rng, device=ctx.device))

    def full_importance() -> Importance:
        x, y = ctx.full_train(cfg.batch_order, torch.Generator(ctx.device).manual_seed(order_seed))
        return importance(model, x, y if labelled else None, loss_fn, cfg.batch_size, magnitude)

    # I_D depends on the batches, so on the order and with it the forget set: cached per original model and forget
    # set, its first seconds booked on every reuse (tuning reruns one forget set many times).
    like = {name: torch.zeros_like(p) for name, p in model.named_parameters()}
    key = {"loss": loss_fn.__name__, "magnitude": magnitude, "batch_size": cfg.batch_size,
           "batch_order": cfg.batch_order}
    if cfg.batch_order != "by_class":
        key["order_seed"] = order_seed
    full_imp = ctx.cached("importance_full", key, like, full_importance)
    with ctx.phase("dampen"):
        dampen(model, forget_imp, full_imp, cfg.alpha, cfg.dampening)
    return model.train(was_training)


@register_method("ssd")
class SSD(Method):
    """Dampens the parameters that matter far more to the forget data than to the whole train set."""

    Config = SSDConfig
    search_space = {"alpha": Range(1.0, 100.0, log=True), "dampening": Range(0.1, 5.0)}
    access = frozenset({"forget", "full_train"})
    scenarios = frozenset(SCENARIOS)
    scenario_defaults = SCENARIO_DEFAULTS
    version = 2  # v2: the authors' importance loaders per scenario (v1: the split's order, batches of 256)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Dampens `model` in place."""
        return run_ssd(model, ctx, cross_entropy, self.cfg)
