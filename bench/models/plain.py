"""Training written the way tutorials and the authors' notebooks write it: the yardstick of the speed bench.

Samples go through `DataLoader` from host tensors, the optimiser is torch's default kernel and the loss is read every
step. Methods declare a plain loop doing their own work this way (`Method.plain_loop`); `unlearnbench bench` and the
benchmarks time it beside the harness in one run, so ratios stay meaningful on noisy machines.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from unlearnbench.models.recipes import Recipe


def dataloader_epoch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, opt: torch.optim.Optimizer,
                     batch_size: int, seed: int, sign: float = 1.0) -> None:
    """One epoch the way most tutorials write it: shuffled DataLoader, per-batch step, loss read every step."""
    model.train()
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    running = 0.0
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        (sign * loss).backward()
        opt.step()
        running += loss.item()


def plain_optimizer(model: nn.Module, recipe: Recipe, lr_scale: float = 1.0) -> torch.optim.Optimizer:
    """The recipe's optimiser with PyTorch's default kernels (no fused option), as a tutorial constructs it."""
    lr = recipe.lr * lr_scale
    if recipe.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=recipe.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=recipe.momentum,
                           nesterov=recipe.nesterov and recipe.momentum > 0, weight_decay=recipe.weight_decay)


def dataloader_predict(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Logits through a DataLoader under no_grad, as evaluation loops are usually written."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(xb) for (xb,) in DataLoader(TensorDataset(x), batch_size=batch_size)])


def split_rows(setting: Any, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The inputs and labels of one split of a setting (retain_train, forget_train, ...)."""
    idx = getattr(setting.split, name)
    return setting.data.x_train[idx], setting.data.y_train[idx]


def plain_sgd_epochs(model: nn.Module, cfg: Any, setting: Any, split: str, sign: float = 1.0) -> nn.Module:
    """`cfg.epochs` DataLoader epochs of plain SGD (cfg's lr, momentum, Nesterov flag, weight decay) on one split;
    sign -1 ascends the loss. The batch is cfg's, or the recipe's where cfg leaves it 0."""
    x, y = split_rows(setting, split)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                          weight_decay=cfg.weight_decay)
    for epoch in range(cfg.epochs):
        dataloader_epoch(model, x, y, opt, cfg.batch_size or setting.recipe.batch_size, seed=epoch, sign=sign)
    return model
