"""Training a population of small models as one batched model: stacked weights, batched matrix products (grouped
convolutions for conv layers), one backward and one fused optimiser step over every member per step.

Each member keeps its own initialisation and its own batch order (and augmentation draws), drawn from its own seed
streams exactly as `unlearnbench.models.training.fit` draws them for a model trained alone; the loss is the sum of the
members' batch-mean losses, so each member's gradient is its own. Optimisers, weight decay and schedules act element
by element, so one fused step over stacked tensors is each member's step. What differs from training alone is only
floating-point rounding (batched products instead of one product per member): tests/test_batched.py states the
tolerance.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unlearnbench.core.errors import DivergedError
from unlearnbench.models.recipes import Recipe
from unlearnbench.models.training import recipe_optimizer, recipe_schedule
from unlearnbench.timing.threads import threads_now

Augment = Callable[[Tensor, torch.Generator], Tensor]
_LAYERS = (nn.Flatten, nn.Linear, nn.ReLU, nn.Conv2d, nn.MaxPool2d)


def batchable(model: nn.Module) -> bool:
    """Whether members of this architecture can train as one stacked model: a Sequential of Flatten, Linear, ReLU,
    Conv2d and MaxPool2d (the mlp and cnn families); anything else (BatchNorm, residual blocks) trains one by one."""
    return isinstance(model, nn.Sequential) and all(isinstance(m, _LAYERS) for m in model)


class Stacked:
    """N models of one Sequential architecture as stacked leaf tensors and a batched forward.

    Dense activations are [N, B, F] and Linear layers one batched product (`baddbmm`); convolutional activations
    are [B, N * C, H, W] and Conv2d layers one grouped convolution (groups = N), pooling acting on every channel.
    """

    def __init__(self, models: list[nn.Module]) -> None:
        self.layers = list(models[0])
        self.count = len(models)
        self.params: dict[str, Tensor] = {}
        linear = {f"{i}.weight" for i, layer in enumerate(self.layers) if isinstance(layer, nn.Linear)}
        for name, _ in models[0].named_parameters():
            stacked = torch.stack([dict(m.named_parameters())[name].detach() for m in models])
            # Linear weights are kept as [N, in, out]: batched products then read them without a transposed copy.
            if name in linear:
                stacked = stacked.transpose(1, 2)
            self.params[name] = stacked.contiguous().requires_grad_(True)
        self._transposed = linear

    def __call__(self, x: Tensor) -> Tensor:
        """Logits [N, B, classes] of every member on its own batch x [N, B, ...]."""
        n, batch = x.shape[:2]
        h, dense = x, False
        if x.dim() == 5:  # images: members' channels side by side for grouped convolutions
            h = x.transpose(0, 1).reshape(batch, -1, *x.shape[3:])
        for index, layer in enumerate(self.layers):
            if isinstance(layer, nn.Flatten):
                h = h.reshape(batch, n, -1).transpose(0, 1) if not dense else h.flatten(2)
                dense = True
            elif isinstance(layer, nn.Linear):
                w, b = self.params[f"{index}.weight"], self.params.get(f"{index}.bias")
                h = torch.bmm(h, w) if b is None else torch.baddbmm(b.unsqueeze(1), h, w)
            elif isinstance(layer, nn.Conv2d):
                w, b = self.params[f"{index}.weight"], self.params.get(f"{index}.bias")
                h = F.conv2d(h, w.flatten(0, 1), None if b is None else b.flatten(), layer.stride, layer.padding,
                             layer.dilation, groups=n * layer.groups)
            else:  # ReLU, MaxPool2d: element- or channel-wise
                h = layer(h)
        return h

    def unstack_into(self, models: list[nn.Module]) -> None:
        """Copies each member's trained weights into its model."""
        with torch.no_grad():
            for i, model in enumerate(models):
                for name, p in model.named_parameters():
                    trained = self.params[name][i]
                    p.copy_(trained.t() if name in self._transposed else trained)


def population_threads() -> int:
    """Threads a stacked population trains on: every core not busy elsewhere right now."""
    # The per-model thread choice (unlearnbench.timing.threads) is for one small model's steps; a stacked batch's
    # products are large enough for every free core (digits/mlp, 32 members: 5.9 s on 2 threads, 8.5 s on 1).
    return threads_now(os.cpu_count() or torch.get_num_threads())


def fit_batched(models: list[nn.Module], x: Tensor, y: Tensor, recipe: Recipe, generators: list[torch.Generator],
                augment: Optional[Augment] = None, what: str = "population",
                threads: Optional[int] = None) -> list[nn.Module]:
    """Trains `models` (one batchable architecture) on (x, y) with `recipe` as one stacked model on `threads`
    threads (default: `population_threads()`); member i draws its batch order and augmentation from generators[i].
    Returns the trained models (the same objects)."""
    threads = threads or population_threads()
    groups = _groups(len(models), threads if x.device.type == "cpu" else 1)
    before = torch.get_num_threads()
    # On the CPU each core trains its own share of the members as one stack, on one thread: small batched products
    # split among threads inside one operator scaled poorly (digits/mlp, 32 members: MEASURED).
    torch.set_num_threads(1 if len(groups) > 1 else threads)
    try:
        if len(groups) == 1:
            failures = [_fit_stacked(models, x, y, recipe, generators, augment, 0)]
        else:
            with ThreadPoolExecutor(max_workers=len(groups)) as pool:
                jobs = [pool.submit(_fit_stacked, models[a:b], x, y, recipe, generators[a:b], augment, a)
                        for a, b in groups]
                failures = [job.result() for job in jobs]
    finally:
        torch.set_num_threads(before)
    failed = "; ".join(f for f in failures if f)
    if failed:
        raise DivergedError(f"diverged: non-finite loss in {what} {failed}")
    return models


def _groups(count: int, threads: int) -> list[tuple[int, int]]:
    """`count` members as at most `threads` contiguous [start, stop) shares of near-equal size."""
    shares = max(1, min(threads, count))
    bounds = [round(i * count / shares) for i in range(shares + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _fit_stacked(models: list[nn.Module], x: Tensor, y: Tensor, recipe: Recipe, generators: list[torch.Generator],
                 augment: Optional[Augment], first: int) -> Optional[str]:
    """Trains `models` (members first, first + 1, ...) as one stack; None when done, else where they diverged
    ('epoch 3 (members [4, 7])'), the training stopped there."""
    stacked = Stacked(models)
    opt = recipe_optimizer(stacked.params.values(), recipe)
    steps_per_epoch = math.ceil(len(x) / recipe.batch_size)
    scheduler = recipe_schedule(opt, recipe, recipe.epochs * steps_per_epoch)
    augment = augment if recipe.augment else None
    for epoch in range(recipe.epochs):
        # As train_steps: each member's whole epoch order is drawn first, then its augmentation per batch.
        orders = [torch.randperm(len(x), generator=g, device=x.device).split(recipe.batch_size) for g in generators]
        total = torch.zeros(len(models), device=x.device)
        for step in range(steps_per_epoch):
            idx = torch.stack([order[step] for order in orders])  # [members, batch]
            xb = x[idx]
            if augment is not None:
                xb = torch.stack([augment(xb[i], g) for i, g in enumerate(generators)])
            logits = stacked(xb)
            losses = F.cross_entropy(logits.flatten(0, 1), y[idx].flatten(), reduction="none").view(idx.shape)
            losses = losses.mean(dim=1)  # each member's batch-mean loss; their sum keeps each member's gradient
            total.add_(losses.detach())
            opt.zero_grad(set_to_none=True)
            losses.sum().backward()
            opt.step()
            scheduler.step()
        bad = [first + i for i in (~torch.isfinite(total)).nonzero().flatten().tolist()]
        if bad:
            return f"epoch {epoch + 1} (members {bad})"
    stacked.unstack_into(models)
    return None
