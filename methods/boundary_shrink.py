"""Boundary Shrink: relabel each forget sample with the class its nearest adversarial neighbour falls into, and
fine-tune on those labels.

Paper: Chen, Gao, Wang, Zhang, "Boundary Unlearning: Rapid Forgetting of Deep Networks via Shifting the Decision
Space", CVPR 2023, arXiv:2303.11570.
Authors' code: OPTML-Group/Unlearn-Saliency `Classification/unlearn/boundary_sh.py` (the port of the authors' code,
published as a Dropbox archive): a frozen copy of the original in eval mode gives, per forget batch, the FGSM
neighbour x' = x + 0.1 * sign(grad_x CE) (clamped to the valid image range and rounded to 1/255), its label
y' = argmax f_0(x'); the model, in train mode, takes an SGD step (momentum 0.9; see Deviations for lr, decay) on
CE(f(x), y'); 10 epochs. The authors' code prints the attack success ratio (y' != y); it is stored here as
`bs_attack_success` (the share over the last epoch), since samples with y' = y are trained on their true label.
Data: shuffled forget batches through the train transform (random crop and flip on CIFAR; `boundary_sh.py:80-99`
attacks and trains on the loader's augmented batch).
Deviations: the clamp and rounding act on pixels, as the port's (its models normalise inside, so its [0, 1] clamp
is on pixels too); epsilon is in pixel units. lr 1e-5 and no weight decay are the original authors' values (the
SalUn port leaves lr at its arg_parser default 0.01 and its optimiser at weight decay 5e-4). Class-wise only.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unlearnbench.core.config import require_non_negative, require_positive
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.space import LEARNING_RATE, Range
from unlearnbench.data.batches import batches
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.models.training import check_epoch, make_optimizer


@dataclass(frozen=True)
class BoundaryShrinkConfig:
    """Boundary Shrink hyperparameters (the authors' values as SalUn runs them)."""

    epsilon: float = 0.1  # FGSM step in pixel units (bound = 0.1)
    lr: float = 1e-5  # SGD lr
    epochs: int = 10  # passes over forget-train
    momentum: float = 0.9  # SGD momentum (no weight decay: the original authors' optimiser)
    batch_size: int = 256  # (SalUn arg_parser)

    def __post_init__(self) -> None:
        require_positive(self, "epsilon", "lr", "epochs", "batch_size")
        require_non_negative(self, "momentum")


def fgsm_neighbour(teacher: nn.Module, x: Tensor, y: Tensor, epsilon: float, mean: Tensor, std: Tensor) -> Tensor:
    """x moved by epsilon (pixels) along the sign of the teacher's loss gradient, kept a valid 8-bit image."""
    x = x.detach().requires_grad_(True)
    grad, = torch.autograd.grad(F.cross_entropy(teacher(x), y), x)
    pixels = (x.detach() * std + mean + epsilon * grad.sign()).clamp(0, 1)
    return ((pixels * 255).round() / 255 - mean) / std


@register_method("boundary_shrink")
class BoundaryShrink(Method):
    """Fine-tunes each forget sample towards the label of its FGSM neighbour under the original model."""

    Config = BoundaryShrinkConfig
    search_space = {"lr": LEARNING_RATE, "epsilon": Range(0.01, 1.0, log=True)}
    access = frozenset({"forget", "teacher"})
    augments = True
    version = 2  # v2: augmented forget batches as the authors' code (invisible where the dataset has no augmentation)
    scenarios = frozenset({"class"})

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Shrinks the forget classes' region of `model` in place."""
        c = self.cfg
        x, y = ctx.forget()
        teacher = ctx.teacher()
        mean, std = ctx.normalisation
        opt = make_optimizer(model.parameters(), "sgd", c.lr, c.momentum, 0.0, nesterov=False)
        model.train()
        with ctx.phase("shrink"):
            for epoch in range(c.epochs):
                flipped = torch.zeros((), device=ctx.device)
                total = torch.zeros((), device=ctx.device)
                for idx in batches(len(x), c.batch_size, ctx.rng, ctx.device):
                    xb, yb = x[idx], y[idx]
                    if ctx.augment is not None:  # the authors' code attacks and trains on the augmented batch
                        xb = ctx.augment(xb, ctx.rng)
                    neighbour = fgsm_neighbour(teacher, xb, yb, c.epsilon, mean, std)
                    with torch.no_grad():
                        target = teacher(neighbour).argmax(1)
                    flipped += (target != yb).sum()
                    loss = F.cross_entropy(model(xb), target)
                    total.add_(loss.detach())
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                check_epoch(total, "boundary_shrink", epoch + 1, f"lower boundary_shrink.lr (now {c.lr:g})")
        ctx.log("bs_attack_success", flipped.item() / len(x))
        return model
