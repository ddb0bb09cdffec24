"""UNSIR: learn error-maximising noise per forget class, impair the model on it beside retain data, then repair.

Paper: Tarun, Chundawat, Mandal, Kankanhalli, "Fast Yet Effective Machine Unlearning", IEEE TNNLS 2023,
arXiv:2111.08947.
Authors' code: vikram2000b/Fast-Machine-Unlearning@fc217ce, "Machine Unlearning.ipynb" (ResNet-18, CIFAR-10).
Deviations: it follows the recipe the notebook intends, not its slips:
- each noise batch is labelled with its own forget class (the notebook labels all noise 0: its issue #2);
- every one of the 256 noise images enters each of the 20 copies (the notebook's `range(batch[0].size(0))`
  keeps only 3 = the channel count);
- the noise is learned with the model in eval mode and its weights frozen, so BatchNorm statistics are not moved
  by noise and no weight gradients are computed (the notebook runs it in train mode);
- all forget classes' noises are optimised together in one batch: in eval mode the samples are independent and
  Adam is per-element, so this equals the per-class loops with one pass per step;
- the retain subset is `retain_per_class` rows per class drawn at random with the cell's generator; the notebook
  takes the first 1,000 rows of each class in dataset order (a fixed, not a random, subset).
No augmentation: the notebook's `transform_train` is ToTensor and Normalize only, so neither the retain subset nor
the noise is augmented.
Zero-glance: declares `retain_subset` only; the noise never touches a real forget sample.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from unlearnbench.core.config import require_non_negative, require_positive
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.space import EPOCHS, LEARNING_RATE
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.models.plain import split_rows
from unlearnbench.models.training import make_optimizer, train_epochs


@dataclass(frozen=True)
class UNSIRConfig:
    """UNSIR hyperparameters; defaults are the authors' notebook (ResNet-18, CIFAR-10)."""

    noise_lr: float = 0.1  # Adam lr on the noise images (notebook)
    noise_steps: int = 40  # Adam steps on the noise (notebook: 5 epochs x 8 steps)
    noise_l2: float = 0.1  # weight of mean_i ||N_i||^2 in the noise loss (notebook)
    noise_batch: int = 256  # noise images per forget class (notebook: batch_size)
    noise_copies: int = 20  # times each noise batch enters the impair set (notebook: num_batches)
    retain_per_class: int = 1000  # retain samples per retained class (notebook: num_samples_per_class)
    impair_lr: float = 0.02  # Adam lr of the impair epoch (notebook)
    repair_lr: float = 0.01  # Adam lr of the repair epoch, fresh optimiser (notebook)
    impair_epochs: int = 1  # notebook: 1
    repair_epochs: int = 1  # notebook: 1
    batch_size: int = 256  # impair/repair batch (notebook)

    def __post_init__(self) -> None:
        require_positive(self, "noise_lr", "noise_steps", "noise_batch", "noise_copies", "retain_per_class",
                         "impair_lr", "repair_lr", "impair_epochs", "repair_epochs", "batch_size")
        require_non_negative(self, "noise_l2")


def noise_error(logits: Tensor, labels: Tensor, groups: int = 1) -> Tensor:
    """The error part of the noise objective, to minimise: -sum over forget classes of CE(f(N_class), class).

    Rows are `groups` equal consecutive blocks (one per forget class); each block's mean cross-entropy is the
    notebook's per-class term, so the sum keeps every class's gradient what its own loop would give.
    """
    return -groups * F.cross_entropy(logits, labels)  # equal blocks: the sum of block means is groups x the mean


def noise_optimizer(noise: Tensor, cfg: UNSIRConfig) -> torch.optim.Optimizer:
    """Adam on the noise whose weight decay is the objective's l2 * mean_i ||N_i||^2 term.

    Adam's (coupled) weight decay adds wd * N to the gradient; the term's gradient is (2 * l2 / n) * N_i for a
    batch of n, so it enters the fused Adam kernel instead of four element-wise autograd ops per step.
    """
    return make_optimizer([noise], "adam", cfg.noise_lr, weight_decay=2 * cfg.noise_l2 / cfg.noise_batch)


def plain_unsir(model: nn.Module, cfg: Any, setting: Any) -> nn.Module:
    """UNSIR written the straightforward way (the authors' notebook, with its two slips fixed).

    Per-class noise loops with weight gradients left on, samples kept as a Python list of (x, y) tuples and fed
    through DataLoader for impair and repair, with the notebook's per-step loss/accuracy bookkeeping.
    """
    torch.manual_seed(setting.stream("method"))
    device = setting.data.device
    x_all, y_all = split_rows(setting, "retain_train")
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


@register_method("unsir")
class UNSIR(Method):
    """Error-maximising noise, one impair epoch on noise + retain subset, one repair epoch on the subset."""

    plain_loop = staticmethod(plain_unsir)  # timed beside the method by `unlearnbench bench`

    Config = UNSIRConfig
    search_space = {"impair_lr": LEARNING_RATE, "repair_lr": LEARNING_RATE, "repair_epochs": EPOCHS}
    access = frozenset({"retain_subset"})
    version = 2  # v2: no augmentation of unlearning data (the authors' loaders have none)
    scenarios = frozenset({"class"})

    def learn_noise(self, model: nn.Module, ctx: UnlearnContext) -> tuple[Tensor, Tensor]:
        """One learned noise batch per forget class, with its labels, in the model's input space."""
        c = self.cfg
        classes = torch.tensor(ctx.forget_classes, device=ctx.device)
        labels = classes.repeat_interleave(c.noise_batch)
        noise = torch.randn(len(labels), *ctx.input_shape, generator=ctx.rng, device=ctx.device)
        noise.requires_grad_(True)
        opt = noise_optimizer(noise, c)
        was_training = model.training
        frozen = [p for p in model.parameters() if p.requires_grad]
        model.eval()
        for p in frozen:
            p.requires_grad_(False)
        try:
            for _ in range(c.noise_steps):
                loss = noise_error(model(noise), labels, groups=len(classes))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        finally:
            for p in frozen:
                p.requires_grad_(True)
            model.train(was_training)
        return noise.detach(), labels

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Noise, impair, repair; checkpoints the model after impair."""
        c = self.cfg
        with ctx.phase("noise"):
            noise, noise_y = self.learn_noise(model, ctx)
        with ctx.phase("impair"):
            rx, ry = ctx.retain_subset(per_class=c.retain_per_class)
            x = torch.cat([noise.repeat(c.noise_copies, 1, 1, 1), rx])
            y = torch.cat([noise_y.repeat(c.noise_copies), ry])
            self._epochs(model, x, y, c.impair_lr, c.impair_epochs, ctx, "impair")
        ctx.checkpoint("impair", model)
        with ctx.phase("repair"):
            self._epochs(model, rx, ry, c.repair_lr, c.repair_epochs, ctx, "repair")
        return model

    def _epochs(self, model: nn.Module, x: Tensor, y: Tensor, lr: float, epochs: int, ctx: UnlearnContext,
                stage: str) -> None:
        opt = make_optimizer(model.parameters(), "adam", lr)  # a fresh Adam per stage, as in the notebook
        train_epochs(model, x, y, opt, epochs=epochs, batch_size=self.cfg.batch_size, generator=ctx.rng, what=stage)
