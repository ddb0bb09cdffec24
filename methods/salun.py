"""SalUn: random-label unlearning restricted to the weights most salient for the forget loss.

Paper: Fan, Liu, Zhang, Wei, Wong, Liu, "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency in
Both Image Classification and Generation", ICLR 2024, arXiv:2310.12508.
Authors' code: OPTML-Group/Unlearn-Saliency `Classification/generate_mask.py` (`save_gradient_ratio`) and
`unlearn/RL.py`: in eval mode, the gradient of -CE summed over the forget batches; its absolute value is ranked over
all parameters at once, and the top `threshold` fraction gets mask 1 (`with_0.5.pt` for threshold 0.5), the rest 0;
then random labels (`random_labels`, the CIFAR-10 branch) with every gradient multiplied by the mask; defaults for
10 % random forgetting: threshold 0.5, `--unlearn_lr 0.013 --unlearn_epochs 10`, SGD momentum 0.9, weight decay
5e-4, batch size 256.
Deviations: weight decay is applied inside the masked gradient (grad + wd * p, then the mask), so weights outside
the mask never move: before the fix of PR #33, the optimiser's own weight decay and momentum still moved them (the
fixed authors' code restores them afterwards; the result is the same). The mask is computed in batches of the method's
batch size over forget-train in stored order on clean rows; the authors' `generate_mask.py` reads the shuffled
forget loader through the train transform (random crop and flip on CIFAR; eval mode either way). Unlearning batches
are augmented as the authors'. On 100-class datasets the authors' RL runs one shuffled pass over the union of
relabelled forget rows and retain rows per epoch (`unlearn/RL.py`, CIFAR-100 branch); here the CIFAR-10 branch (a
forget pass, then a retain pass) runs on every dataset.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unlearnbench.core.config import SGDConfig
from unlearnbench.core.errors import ConfigError
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.space import EPOCHS, LEARNING_RATE, Choice
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.methods.random_labels import random_label_epochs
from unlearnbench.models.training import make_optimizer


@dataclass(frozen=True)
class SalUnConfig(SGDConfig):
    """SalUn hyperparameters (its 10 % random-forgetting defaults)."""

    threshold: float = 0.5  # fraction of weights in the mask (with_0.5.pt)
    lr: float = 0.013  # SGD lr (--unlearn_lr 0.013)
    epochs: int = 10  # (--unlearn_epochs 10)
    momentum: float = 0.9  # heavy-ball (unlearn/impl.py)
    weight_decay: float = 5e-4  # (arg_parser)
    batch_size: int = 256  # (arg_parser)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.threshold <= 1:
            raise ConfigError(f"salun.threshold must lie in (0, 1], got {self.threshold!r}")


def saliency_mask(model: nn.Module, x: Tensor, y: Tensor, fraction: float, batch_size: int) -> dict[str, Tensor]:
    """1 on the `fraction` of weights with the largest |gradient of -CE| summed over the forget batches, else 0."""
    was_training = model.training
    model.eval()
    model.zero_grad(set_to_none=True)
    for start in range(0, len(x), batch_size):
        (-F.cross_entropy(model(x[start:start + batch_size]), y[start:start + batch_size])).backward()
    saliency = {name: p.grad.abs() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    flat = torch.cat([s.flatten() for s in saliency.values()])
    chosen = torch.zeros_like(flat, dtype=torch.bool)
    chosen[torch.topk(flat, max(1, int(fraction * len(flat)))).indices] = True  # exactly the fraction, ties by rank
    masks, offset = {}, 0
    for name, s in saliency.items():
        masks[name] = chosen[offset:offset + s.numel()].view_as(s).to(s.dtype)
        offset += s.numel()
    return masks


@register_method("salun")
class SalUn(Method):
    """Random labels on forget data and retain repair, with gradients confined to the salient weights."""

    Config = SalUnConfig
    search_space = {"lr": LEARNING_RATE, "epochs": EPOCHS, "threshold": Choice(tuple(i / 10 for i in range(1, 11)))}
    access = frozenset({"forget", "retain"})
    augments = True  # the authors' unlearning loaders read through the train transform
    scenarios = frozenset(SCENARIOS)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Builds the saliency mask, then runs masked random-label epochs on `model` in place."""
        c = self.cfg
        with ctx.phase("mask"):
            masks = saliency_mask(model, *ctx.forget(), c.threshold, c.batch_size)
        named = [(p, masks[name]) for name, p in model.named_parameters()]
        opt = make_optimizer(model.parameters(), "sgd", c.lr, c.momentum, 0.0, nesterov=False)

        def mask_gradients() -> None:  # coupled weight decay inside the mask only: masked-out weights never move
            for p, mask in named:
                if p.grad is not None:
                    p.grad.add_(p.detach(), alpha=c.weight_decay).mul_(mask)

        with ctx.phase("random_labels"):
            random_label_epochs(model, ctx, opt, c.epochs, c.batch_size, before_step=mask_gradients)
        return model
