"""Boundary Expanding: add a shadow class, push the forget samples into it, then prune it away.

Paper: Chen, Gao, Wang, Zhang, "Boundary Unlearning: Rapid Forgetting of Deep Networks via Shifting the Decision
Space", CVPR 2023, arXiv:2303.11570.
Authors' code: OPTML-Group/Unlearn-Saliency `Classification/unlearn/boundary_ex.py` (the port of the authors' code,
published as a Dropbox archive): the classifier head is widened to C + 1 outputs, the forget samples are trained
towards the extra class C with SGD (momentum 0.9) in train mode, 10 epochs, on batches through the train transform
(random crop and flip on CIFAR); lr 1e-5 is the original authors' value (SalUn's port sets none and so runs its
arg_parser default, 0.01); the authors' code then prunes
the extra output (`pruned_classifier`), which SalUn's port never does, so its model keeps C + 1 logits.
Deviations: the head is the last module that produces the class logits (a Linear, or allcnn's 1x1 Conv2d); the
shadow output is initialised as PyTorch initialises a layer (uniform in +-1/sqrt(fan_in)) but from the method's
seeded generator; the returned model has the original C outputs (the authors' pruning). Class-wise only, as the
paper.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from unlearnbench.core.config import SGDConfig
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.space import EPOCHS, LEARNING_RATE
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.models.training import make_optimizer, train_epochs

Head = nn.Linear | nn.Conv2d


@dataclass(frozen=True)
class BoundaryExpandingConfig(SGDConfig):
    """Boundary Expanding hyperparameters (the authors' values as SalUn runs them)."""

    lr: float = 1e-5  # SGD lr (the original authors' value; SalUn's port leaves its arg_parser default 0.01)
    epochs: int = 10  # passes over forget-train
    momentum: float = 0.9  # SGD momentum
    weight_decay: float = 5e-4  # (SalUn arg_parser)
    batch_size: int = 256  # (SalUn arg_parser)


def class_head(model: nn.Module, num_classes: int) -> tuple[nn.Module, str, Head]:
    """(parent module, attribute name, head): the last Linear or Conv2d with `num_classes` outputs."""
    found = None
    for parent in model.modules():
        for name, child in parent.named_children():
            outputs = getattr(child, "out_features", getattr(child, "out_channels", None))
            if isinstance(child, (nn.Linear, nn.Conv2d)) and outputs == num_classes:
                found = (parent, name, child)
    if found is None:
        raise ValueError(f"no Linear or Conv2d head with {num_classes} outputs in {type(model).__name__}")
    return found


def with_outputs(head: Head, rows: int, generator: torch.Generator) -> Head:
    """A copy of `head` with `rows` outputs: the existing ones copied, new ones drawn as PyTorch's default init."""
    weight = head.weight.detach()
    fan_in = weight[0].numel()
    bound = 1 / math.sqrt(fan_in)
    shape = (rows, *weight.shape[1:])
    fresh = (torch.rand(shape, generator=generator, device=weight.device, dtype=weight.dtype) * 2 - 1) * bound
    fresh[:min(rows, len(weight))] = weight[:rows]
    if isinstance(head, nn.Linear):
        wider = nn.Linear(head.in_features, rows, bias=head.bias is not None)
    else:
        wider = nn.Conv2d(head.in_channels, rows, head.kernel_size, head.stride, head.padding,
                          bias=head.bias is not None)
    wider = wider.to(weight.device)
    with torch.no_grad():
        wider.weight.copy_(fresh)
        if head.bias is not None:
            bias = (torch.rand(rows, generator=generator, device=weight.device, dtype=weight.dtype) * 2 - 1) * bound
            bias[:min(rows, len(head.bias))] = head.bias.detach()[:rows]
            wider.bias.copy_(bias)
    return wider


@register_method("boundary_expanding")
class BoundaryExpanding(Method):
    """Trains the forget samples into a temporary extra class, then removes that class."""

    Config = BoundaryExpandingConfig
    search_space = {"lr": LEARNING_RATE, "epochs": EPOCHS}
    access = frozenset({"forget"})
    augments = True  # the authors' unlearning loaders read through the train transform
    scenarios = frozenset({"class"})

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Expands, trains and prunes `model`'s head in place."""
        c = self.cfg
        x, _ = ctx.forget()
        parent, name, head = class_head(model, ctx.num_classes)
        setattr(parent, name, with_outputs(head, ctx.num_classes + 1, ctx.rng))
        shadow = torch.full((len(x),), ctx.num_classes, device=ctx.device)
        opt = make_optimizer(model.parameters(), "sgd", c.lr, c.momentum, c.weight_decay, nesterov=False)
        model.train()
        with ctx.phase("expand"):
            train_epochs(model, x, shadow, opt, epochs=c.epochs, batch_size=c.batch_size, generator=ctx.rng,
                         augment=ctx.augment, what="boundary expanding")
        with ctx.phase("prune"):
            setattr(parent, name, with_outputs(getattr(parent, name), ctx.num_classes, ctx.rng))
        return model
