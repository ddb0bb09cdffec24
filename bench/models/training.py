"""The shared training loop on device-resident tensors, batched by index permutation, and its optimisers."""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unlearnbench.core.errors import DivergedError
from unlearnbench.data.augment import Augment
from unlearnbench.data.batches import batches
from unlearnbench.models.optim import LeanAdam, LeanSGD
from unlearnbench.models.recipes import Recipe

ONECYCLE_WARMUP = 0.25  # share of the steps spent warming up to the peak lr
TRAINER_VERSION = 2  # bump when the loop's numerics change: it is part of every cached model's key


EpochCallback = Callable[[int, int], None]
Loss = Callable[[Tensor, Tensor, Tensor], Tensor]  # (logits, labels, inputs) -> the mean loss of a batch


def make_optimizer(params, optimizer: str, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                   nesterov: bool = False) -> torch.optim.Optimizer:
    """An SGD (heavy-ball momentum, or Nesterov's when `nesterov`) or Adam optimiser over `params`."""
    params = list(params)
    # Fused kernels update all parameters in one pass (about 10 % off a small-model step here); the lean classes
    # also skip torch.optim's per-step Python around that kernel (bench/models/optim.py).
    fused = all(p.device.type in ("cpu", "cuda") for p in params)
    adam, sgd = (LeanAdam, LeanSGD) if fused else (torch.optim.Adam, torch.optim.SGD)
    if optimizer == "adam":
        return adam(params, lr=lr, weight_decay=weight_decay, fused=fused)
    return sgd(params, lr=lr, momentum=momentum, nesterov=nesterov and momentum > 0, weight_decay=weight_decay,
               fused=fused)


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    """Sets every parameter group's learning rate (per-epoch schedules of the references)."""
    for group in opt.param_groups:
        group["lr"] = lr


def l2_penalty(params: Sequence[Tensor], start: Sequence[Tensor], weight: float) -> Tensor:
    """weight / 2 * ||theta - theta_start||^2 over `params` (SCRUB's notebook l2_penalty)."""
    return weight / 2 * sum((p - p0).square().sum() for p, p0 in zip(params, start))


def cosine_factor(step: int, total: int) -> float:
    """(1 + cos(pi * step / total)) / 2: CosineAnnealingLR's factor at `step` of `total` (to 0, no restarts)."""
    return (1 + math.cos(math.pi * step / total)) / 2


def recipe_optimizer(params, recipe: Recipe, lr_scale: float = 1.0) -> torch.optim.Optimizer:
    """The recipe's optimiser (kind, momentum, Nesterov, weight decay) at `lr_scale` times its peak lr."""
    return make_optimizer(params, recipe.optimizer, recipe.lr * lr_scale, recipe.momentum, recipe.weight_decay,
                          recipe.nesterov)


def recipe_schedule(opt: torch.optim.Optimizer, recipe: Recipe, total_steps: int
                    ) -> torch.optim.lr_scheduler.LRScheduler:
    """The recipe's per-step learning-rate schedule (one-cycle, cosine or constant) over `total_steps`."""
    if recipe.schedule == "onecycle":
        # torch divides by the warm-up's length, pct_start * total_steps - 1, which is 0 at exactly 4 steps: there
        # the warm-up takes 2 steps instead of a ZeroDivisionError (every other length keeps pct_start 0.25).
        pct_start = ONECYCLE_WARMUP if total_steps * ONECYCLE_WARMUP != 1 else 2 / total_steps
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=total_steps,
                                                   pct_start=pct_start, cycle_momentum=False)
    if recipe.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


def cross_entropy(logits: Tensor, labels: Tensor, inputs: Tensor) -> Tensor:
    """The default training loss: mean cross-entropy of the logits against the labels."""
    return F.cross_entropy(logits, labels)


def train_steps(model: nn.Module, x: Tensor, y: Tensor, opt: torch.optim.Optimizer, *, batch_size: int,
                generator: torch.Generator, augment: Optional[Augment] = None,
                scheduler: Optional[torch.optim.lr_scheduler.LRScheduler] = None, loss_fn: Loss = cross_entropy,
                before_step: Optional[Callable[[], None]] = None, train_mode: bool = True) -> Tensor:
    """One epoch of steps on `loss_fn(logits, labels, inputs)` (cross-entropy by default), with `before_step`
    called between backward and the optimiser step (gradient masks), in train mode or, with `train_mode=False`, in
    eval mode (BatchNorm statistics frozen, as references that call model.eval() before training); returns the
    summed loss on the device (non-finite iff any step was)."""
    model.train(train_mode)
    # A non-finite step loss makes the sum non-finite (inf or nan), whatever the signs: one in-place add per step
    # replaces an isfinite/not/or chain, and the host reads it once per epoch (no sync inside the loop).
    total = torch.zeros((), device=x.device)
    for idx in batches(len(x), batch_size, generator, x.device):
        xb = x.index_select(0, idx)  # a row gather: cheaper than advanced indexing for the same copy
        if augment is not None:
            xb = augment(xb, generator)
        loss = loss_fn(model(xb), y.index_select(0, idx), xb)
        total.add_(loss.detach())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if before_step is not None:
            before_step()
        opt.step()
        if scheduler is not None:
            scheduler.step()
    return total


def check_epoch(total: Tensor, what: str, epoch: int, advice: str = "") -> None:
    """Raises DivergedError naming `what` and the (1-based) epoch when an epoch's summed loss is non-finite; the one
    host sync per epoch of every training loop."""
    if not bool(torch.isfinite(total)):
        raise DivergedError(f"diverged: non-finite loss in {what} epoch {epoch}" + (f"; {advice}" if advice else ""))


def train_epochs(model: nn.Module, x: Tensor, y: Tensor, opt: torch.optim.Optimizer, *, epochs: int,
                 batch_size: int, generator: torch.Generator, augment: Optional[Augment] = None,
                 scheduler: Optional[torch.optim.lr_scheduler.LRScheduler] = None, what: str = "training",
                 on_epoch: Optional[EpochCallback] = None, loss_fn: Loss = cross_entropy,
                 before_step: Optional[Callable[[], None]] = None, train_mode: bool = True) -> nn.Module:
    """`epochs` passes of `train_steps`; raises DivergedError naming `what` and the epoch on a non-finite loss."""
    for epoch in range(epochs):
        total = train_steps(model, x, y, opt, batch_size=batch_size, generator=generator, augment=augment,
                            scheduler=scheduler, loss_fn=loss_fn, before_step=before_step, train_mode=train_mode)
        check_epoch(total, what, epoch + 1)
        if on_epoch is not None:
            on_epoch(epoch + 1, epochs)
    return model


def fit(model: nn.Module, x: Tensor, y: Tensor, recipe: Recipe, generator: torch.Generator,
        augment: Optional[Augment] = None, on_epoch: Optional[EpochCallback] = None) -> nn.Module:
    """Trains `model` on (x, y) with `recipe`; raises DivergedError on a non-finite loss."""
    opt = recipe_optimizer(model.parameters(), recipe)
    scheduler = recipe_schedule(opt, recipe, recipe.epochs * math.ceil(len(x) / recipe.batch_size))
    return train_epochs(model, x, y, opt, epochs=recipe.epochs, batch_size=recipe.batch_size, generator=generator,
                        augment=augment if recipe.augment else None, scheduler=scheduler, on_epoch=on_epoch)
