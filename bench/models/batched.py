"""Training a population of models as stacked models: stacked weights, batched matrix products (grouped convolutions
for conv layers) for the mlp and cnn families, `torch.func.vmap` for other architectures (BatchNorm, residual
blocks), one backward and one fused optimiser step over every member of a stack per step.

Each member keeps its own initialisation and its own batch order (and augmentation draws), drawn from its own seed
streams exactly as `unlearnbench.models.training.fit` draws them for a model trained alone; the loss is the sum of the
members' batch-mean losses, so each member's gradient is its own. Optimisers, weight decay and schedules act element
by element, so one fused step over stacked tensors is each member's step. What differs from training alone is only
floating-point rounding (batched products instead of one product per member): tests/test_batched.py states the
tolerance. On the CPU the members are split into stacks of STACK_MEMBERS, each trained on a thread of its own, as
many at once as there are free cores (the weights come out the same as from one stack).
"""
from __future__ import annotations

import copy
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
# Members per stack on the CPU: digits/mlp, 32 members on 2 threads, 4.3-4.7 s in stacks of 8 against 4.3-4.8 s
# of 16, 5.0-5.3 s of 4 and 7.2-8.5 s as one stack (MNIST/mlp, one epoch: 14.1-14.8 s, 13.5-16.6, 15.4-16.9,
# 16.8-17.2); a stack of 8 mlp members' weights, gradients and momenta fits a core's caches better.
STACK_MEMBERS = 8


def _sequential(model: nn.Module) -> bool:
    """A Sequential of Flatten, Linear, ReLU, Conv2d and MaxPool2d ending in a Linear head (the mlp and cnn
    families): `Stacked`'s hand-laid batched products."""
    return (isinstance(model, nn.Sequential) and all(isinstance(m, _LAYERS) for m in model)
            and isinstance(model[-1], nn.Linear))


def batchable(model: nn.Module) -> bool:
    """Whether members of this architecture can train as stacked models: the mlp and cnn families by hand-laid
    batched products, any other model without random layers (BatchNorm and residual blocks included: resnet18,
    allcnn) by `torch.func.vmap` over its stacked weights and buffers; a model with dropout trains one by one (its
    draws could not come from each member's own generator)."""
    return _sequential(model) or not any(isinstance(m, nn.modules.dropout._DropoutNd) for m in model.modules())


class _Stack:
    """What both kinds of stack hold: each stacked weight and buffer, member-major."""

    params: dict[str, Tensor]
    buffers: dict[str, Tensor]

    def unstack_into(self, models: list[nn.Module]) -> None:
        """Copies each member's trained weights and buffers into its model."""
        stacked = {**self.params, **self.buffers}
        with torch.no_grad():
            for i, model in enumerate(models):
                for name, t in [*model.named_parameters(), *model.named_buffers()]:
                    t.copy_(stacked[name][i])


class VmapStacked(_Stack):
    """N models of any architecture as stacked weights and buffers, run by `torch.func.vmap` over a functional
    call: each member's BatchNorm normalises by its own batch and updates its own running statistics."""

    def __init__(self, models: list[nn.Module]) -> None:
        from torch.func import stack_module_state

        params, self.buffers = stack_module_state(models)
        self.params = {name: p.detach().requires_grad_(True) for name, p in params.items()}
        self.base = copy.deepcopy(models[0]).to("meta")  # the architecture only; the weights come in per call
        self.base.train()

    def __call__(self, x: Tensor) -> Tensor:
        """Class-major logits [N, classes, B] of every member on its own batch x [N, B, ...]."""
        from torch.func import functional_call, vmap

        def one(params: dict[str, Tensor], buffers: dict[str, Tensor], batch: Tensor) -> Tensor:
            return functional_call(self.base, (params, buffers), (batch,))

        return vmap(one)(self.params, self.buffers, x).transpose(1, 2)


class Stacked(_Stack):
    """N models of one Sequential architecture as stacked leaf tensors and a batched forward.

    Dense activations are feature-major, [N, F, B], and Linear layers one batched product W[N, out, in] @ h
    (`baddbmm`); convolutional activations are [B, N * C, H, W] and Conv2d layers one grouped convolution
    (groups = N), pooling acting on every channel. Feature-major products keep every operand and gradient in a
    layout the batched products and ReLU's backward read directly, and give class-major logits that cross-entropy
    reduces fast: batch-major layers took 6.2 ms per step against 4.5 ms (digits/mlp, 16 members, one thread; a
    10-wide output alone: head 187 vs 48 us, its weight gradient 212 vs 46 us, cross-entropy 161 vs 16 us).
    """

    def __init__(self, models: list[nn.Module]) -> None:
        self.layers = list(models[0])
        self.count = len(models)
        self.params: dict[str, Tensor] = {
            name: torch.stack([dict(m.named_parameters())[name].detach() for m in models]).requires_grad_(True)
            for name, _ in models[0].named_parameters()}
        self.buffers: dict[str, Tensor] = {}  # its layers (Linear, Conv2d, ReLU, pooling) hold none

    def __call__(self, x: Tensor) -> Tensor:
        """Class-major logits [N, classes, B] of every member on its own batch x [N, B, ...]."""
        n, batch = x.shape[:2]
        layers = list(enumerate(self.layers))
        if isinstance(self.layers[0], nn.Flatten):  # an mlp: straight to feature-major, no image reshuffle
            h, layers = x.flatten(2).transpose(1, 2), layers[1:]
        else:  # images: members' channels side by side for grouped convolutions
            h = x.transpose(0, 1).reshape(batch, -1, *x.shape[3:])
        for index, layer in layers:
            if isinstance(layer, nn.Flatten):
                h = h.reshape(batch, n, -1).permute(1, 2, 0)
            elif isinstance(layer, nn.Linear):
                w, b = self.params[f"{index}.weight"], self.params.get(f"{index}.bias")
                h = torch.bmm(w, h) if b is None else torch.baddbmm(b.unsqueeze(2), w, h)
            elif isinstance(layer, nn.Conv2d):
                w, b = self.params[f"{index}.weight"], self.params.get(f"{index}.bias")
                h = F.conv2d(h, w.flatten(0, 1), None if b is None else b.flatten(), layer.stride, layer.padding,
                             layer.dilation, groups=n * layer.groups)
            else:  # ReLU, MaxPool2d: element- or channel-wise
                h = layer(h)
        return h



def population_threads() -> int:
    """Threads a stacked population trains on: every core not busy elsewhere right now."""
    # The per-model thread choice (unlearnbench.timing.threads) is for one small model's steps; stacks of members
    # keep every free core busy (digits/mlp, 32 members: 4.4-4.7 s on 2 threads, 8.7-10.6 s on 1).
    return threads_now(os.cpu_count() or torch.get_num_threads())


def fit_batched(models: list[nn.Module], x: Tensor, y: Tensor, recipe: Recipe, generators: list[torch.Generator],
                augment: Optional[Augment] = None, what: str = "population",
                threads: Optional[int] = None) -> list[nn.Module]:
    """Trains `models` (one batchable architecture) on (x, y) with `recipe` as one stacked model on `threads`
    threads (default: `population_threads()`); member i draws its batch order and augmentation from generators[i].
    Returns the trained models (the same objects)."""
    threads = threads or population_threads()
    on_cpu = x.device.type == "cpu"
    groups = _groups(len(models), STACK_MEMBERS, threads) if on_cpu else [(0, len(models))]
    workers = min(threads, len(groups))
    before = torch.get_num_threads()
    # On the CPU, stacks of a few members each, one thread per stack, as many stacks at once as there are threads:
    # small batched products shared among threads inside one operator scaled poorly (STACK_MEMBERS' figures).
    torch.set_num_threads(1 if workers > 1 else threads)
    # Autocast is per thread: the stacks' threads train in the caller's precision (a bf16 recipe stays bf16).
    device = x.device.type
    precision = dict(device_type=device, dtype=torch.get_autocast_dtype(device),
                     enabled=torch.is_autocast_enabled(device), cache_enabled=False)

    def train(a: int, b: int) -> Optional[str]:
        with torch.autocast(**precision):
            return _fit_stacked(models[a:b], x, y, recipe, generators[a:b], augment, a)

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            jobs = [pool.submit(train, a, b) for a, b in groups]
            failures = [job.result() for job in jobs]
    finally:
        torch.set_num_threads(before)
    failed = "; ".join(f for f in failures if f)
    if failed:
        raise DivergedError(f"diverged: non-finite loss in {what} {failed}")
    return models


def _groups(count: int, size: int, threads: int = 1) -> list[tuple[int, int]]:
    """`count` members as contiguous [start, stop) stacks of near-equal sizes, at most `size` each and at least one
    per thread while there are members for it."""
    stacks = max(1, math.ceil(count / size), min(threads, count))
    bounds = [round(i * count / stacks) for i in range(stacks + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _fit_stacked(models: list[nn.Module], x: Tensor, y: Tensor, recipe: Recipe, generators: list[torch.Generator],
                 augment: Optional[Augment], first: int) -> Optional[str]:
    """Trains `models` (members first, first + 1, ...) as one stack; None when done, else where they diverged
    ('epoch 3 (members [4, 7])'), the training stopped there."""
    stacked = Stacked(models) if _sequential(models[0]) else VmapStacked(models)
    opt = recipe_optimizer(stacked.params.values(), recipe)
    steps_per_epoch = math.ceil(len(x) / recipe.batch_size)
    scheduler = recipe_schedule(opt, recipe, recipe.epochs * steps_per_epoch)
    augment = augment if recipe.augment else None
    for epoch in range(recipe.epochs):
        # As train_steps: each member's whole epoch order is drawn first, then its augmentation per batch.
        orders = torch.stack([torch.randperm(len(x), generator=g, device=x.device) for g in generators])
        total = torch.zeros(len(models), device=x.device)
        for step in range(steps_per_epoch):
            idx = orders[:, step * recipe.batch_size:(step + 1) * recipe.batch_size]  # [members, batch]
            rows = idx.flatten()
            xb = x.index_select(0, rows).view(*idx.shape, *x.shape[1:])
            if augment is not None:
                xb = torch.stack([augment(xb[i], g) for i, g in enumerate(generators)])
            yb = y.index_select(0, rows).view(idx.shape)
            losses = F.cross_entropy(stacked(xb), yb, reduction="none")  # [members, batch]
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
