"""Plain PyTorch reference loops, written the way tutorials and the authors' notebooks write them.

Each does the same work as a harness method (same recipe, same hyperparameters), keeping samples on the host and
batching through `DataLoader`. Benchmarks and `unlearnbench bench` time them beside the harness in one run, so
ratios stay meaningful on noisy machines. They are yardsticks, not methods: nothing here is registered as one.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from unlearnbench.models.recipes import Recipe
from unlearnbench.core.registry import Registry
from unlearnbench.execution.setting import Setting

Reference = Callable[[nn.Module, Any, Setting], nn.Module]
REFERENCES: Registry[Reference] = Registry("reference loop")


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


def _split(setting: Setting, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    idx = getattr(setting.split, name)
    return setting.data.x_train[idx], setting.data.y_train[idx]


@REFERENCES.register("finetune")
def finetune_reference(model: nn.Module, cfg: Any, setting: Setting) -> nn.Module:
    """Fine-tuning on retain-train with a DataLoader and plain SGD."""
    x, y = _split(setting, "retain_train")
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                          weight_decay=cfg.weight_decay)
    for epoch in range(cfg.epochs):
        dataloader_epoch(model, x, y, opt, cfg.batch_size or setting.recipe.batch_size, seed=epoch)
    return model


@REFERENCES.register("gradient_ascent")
def gradient_ascent_reference(model: nn.Module, cfg: Any, setting: Setting) -> nn.Module:
    """Gradient ascent on forget-train with a DataLoader and plain SGD."""
    x, y = _split(setting, "forget_train")
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                          weight_decay=cfg.weight_decay)
    for epoch in range(cfg.epochs):
        dataloader_epoch(model, x, y, opt, cfg.batch_size or setting.recipe.batch_size, seed=epoch, sign=-1.0)
    return model


@REFERENCES.register("retrain")
def retrain_reference(model: nn.Module, cfg: Any, setting: Setting) -> nn.Module:
    """Training from scratch on retain-train with a DataLoader, the recipe's optimiser and epochs."""
    x, y = _split(setting, "retain_train")
    fresh = setting.new_model("retrain.init")
    r = setting.recipe
    opt = plain_optimizer(fresh, r)
    for epoch in range(r.epochs):
        dataloader_epoch(fresh, x, y, opt, r.batch_size, seed=epoch)
    return fresh


@REFERENCES.register("unsir")
def unsir_reference(model: nn.Module, cfg: Any, setting: Setting) -> nn.Module:
    """UNSIR written the straightforward way (the authors' notebook, with its two slips fixed).

    Per-class noise loops with weight gradients left on, samples kept as a Python list of (x, y) tuples and fed
    through DataLoader for impair and repair, with the notebook's per-step loss/accuracy bookkeeping.
    """
    torch.manual_seed(setting.stream("method"))
    device = setting.data.device
    x_all, y_all = _split(setting, "retain_train")
    retain = []  # host-side list of samples, as the notebook keeps them
    for cls in sorted(set(y_all.tolist())):
        members = (y_all == cls).nonzero().flatten()[: cfg.retain_per_class]
        retain += [(x_all[i].cpu(), y_all[i].cpu()) for i in members.tolist()]
    noises, losses = {}, []
    for cls in setting.forget.classes:
        noise = nn.Parameter(torch.randn(cfg.noise_batch, *x_all.shape[1:], device=device))
        opt = torch.optim.Adam([noise], lr=cfg.noise_lr)
        model.eval()
        for _ in range(cfg.noise_steps):
            labels = torch.full((cfg.noise_batch,), cls, device=device)
            loss = -F.cross_entropy(model(noise), labels) + cfg.noise_l2 * noise.square().sum((1, 2, 3)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        noises[cls] = noise.detach().cpu()
    noisy = [(noises[cls][i], torch.tensor(cls)) for cls in setting.forget.classes
             for _ in range(cfg.noise_copies) for i in range(cfg.noise_batch)]
    for data, lr in ((noisy + retain, cfg.impair_lr), (retain, cfg.repair_lr)):
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        running_loss, running_correct = 0.0, 0
        for xb, yb in DataLoader(data, batch_size=cfg.batch_size, shuffle=True):
            xb, yb = xb.to(device), yb.to(device)
            outputs = model(xb)
            loss = F.cross_entropy(outputs, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            running_loss += loss.item() * len(xb)
            running_correct += (outputs.argmax(1) == yb).sum().item()
    return model
