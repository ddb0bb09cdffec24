"""MSG ("mask small gradients"), a NeurIPS 2023 unlearning-challenge entry: re-initialise the convolution weights with
the smallest gradient of (retain loss - forget loss), slow the others down, and fine-tune on the retain set.

Paper: Cadet et al., "Deep Unlearn: Benchmarking Machine Unlearning for Image Classification", arXiv:2410.01276
(the challenge's second-ranked entry, `kgltop2`, among the best after tuning); Triantafillou et al.,
arXiv:2406.09073 (the challenge).
Authors' code: xcadet/deepunlearn@6830ff6 `munl/unlearning/kgltop2.py` (`KGLTop2.unlearn`):
1. `get_grads_for_snip`: gradients summed over batches of 64 of cross-entropy on a random retain subset as large as
   the forget set, plus batches of -cross-entropy on the forget set (the model in the mode it arrives in: train);
2. `re_init_model_snip_ver2_little_grad`: in every Conv2d, the round(0.3 x numel) weights with the smallest |grad|
   are drawn afresh (kaiming_normal_, fan_out, relu) and the rest kept; each such layer becomes a `MaskConv2d` whose
   weight gradient is multiplied by 1 on the re-initialised weights and 0.1 on the kept ones; its bias is the new
   layer's default initialisation (the old bias is not copied);
3. fine-tuning on retain-train: SGD lr 1e-3, momentum 0.9, weight decay 5e-4, 5 epochs in batches of 64, train mode,
   `LinearAnnealingLR` stepped per epoch (lr factors 1/3, 2/3, 1, 2/3, 1/3 over the 5 epochs).
Deviations:
- No `MaskConv2d` is left in the model: the gradient mask is applied between backward and the optimiser step on the
  original Conv2d layers, so the returned model has the setting's architecture (DeepUnlearn leaves MaskConv2d
  modules in its returned net, `munl/unlearning/kgltop2.py`).
- The retain subset and every batch order come from the cell's seeded generator.
- On a model without convolutions (mlp) nothing is re-initialised and MSG is its fine-tuning alone, as the authors' code
  would run it. A non-finite loss fails the cell as 'diverged'.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unlearnbench.core.config import SGDConfig, require_non_negative
from unlearnbench.core.errors import ConfigError
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.space import EPOCHS, LEARNING_RATE, Range
from unlearnbench.data.batches import batches
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.models.training import make_optimizer, set_lr, train_epochs


@dataclass(frozen=True)
class MSGConfig(SGDConfig):
    """MSG hyperparameters (DeepUnlearn's KGLTop2 ORIGINAL_* values)."""

    init_rate: float = 0.3  # share of each conv layer's weights re-initialised (ORIGINAL_INIT_RATE)
    slow_factor: float = 0.1  # gradient multiplier of the kept conv weights (grad_mask[grad_mask == 0] += 0.1)
    lr: float = 1e-3  # SGD lr (ORIGINAL_LR)
    epochs: int = 5  # passes over retain-train (ORIGINAL_NUM_EPOCHS)
    momentum: float = 0.9  # (ORIGINAL_MOMENTUM)
    weight_decay: float = 5e-4  # (ORIGINAL_WEIGHT_DECAY)
    batch_size: int = 64  # (ORIGINAL_BATCH_SIZE; get_grads_for_snip's retain loader: 64)

    def __post_init__(self) -> None:
        super().__post_init__()
        require_non_negative(self, "slow_factor")
        if not 0 <= self.init_rate <= 1:
            raise ConfigError(f"msg.init_rate must lie in [0, 1], got {self.init_rate!r}")


def snip_gradients(model: nn.Module, ctx: UnlearnContext, batch_size: int) -> None:
    """Leaves in .grad the batch sum of CE on a random retain subset as large as the forget set, minus CE on forget."""
    (x_r, y_r), (x_f, y_f) = ctx.retain(), ctx.forget()
    subset = torch.randperm(len(x_r), generator=ctx.rng, device=ctx.device)[:len(x_f)]
    model.zero_grad(set_to_none=True)
    for (x, y), sign in (((x_r[subset], y_r[subset]), 1.0), ((x_f, y_f), -1.0)):
        for idx in batches(len(x), batch_size, ctx.rng, ctx.device):
            (sign * F.cross_entropy(model(x[idx]), y[idx])).backward()


@torch.no_grad()
def reinit_small_gradients(model: nn.Module, init_rate: float, slow_factor: float,
                           generator: torch.Generator) -> dict[nn.Conv2d, Tensor]:
    """Re-draws each conv layer's `init_rate` smallest-|grad| weights and its bias; returns the gradient masks."""
    masks = {}
    for conv in (m for m in model.modules() if isinstance(m, nn.Conv2d)):
        chosen = torch.zeros(conv.weight.numel(), dtype=torch.bool, device=conv.weight.device)
        chosen[torch.topk(-conv.weight.grad.abs().flatten(), round(init_rate * chosen.numel())).indices] = True
        chosen = chosen.view_as(conv.weight)
        fresh = torch.empty_like(conv.weight)
        nn.init.kaiming_normal_(fresh, mode="fan_out", nonlinearity="relu", generator=generator)
        conv.weight.copy_(torch.where(chosen, fresh, conv.weight))
        if conv.bias is not None:  # the authors' new layer keeps its own default bias
            bound = 1 / (conv.weight[0].numel() ** 0.5)
            conv.bias.uniform_(-bound, bound, generator=generator)
        masks[conv] = torch.where(chosen, 1.0, slow_factor).to(conv.weight.dtype)
    return masks


def linear_annealing_factor(epoch: int, epochs: int) -> float:
    """DeepUnlearn's LinearAnnealingLR stepped once per epoch: the lr factor of 0-based `epoch`."""
    step, rise, total = epoch + 1, (epochs + 1) // 2, epochs + 1
    return step / rise if step <= rise else (total - step) / (total - rise)


@register_method("msg")
class MSG(Method):
    """Re-initialises the conv weights least moved by (retain - forget) loss, then fine-tunes the rest slowly."""

    Config = MSGConfig
    search_space = {"lr": LEARNING_RATE, "epochs": EPOCHS, "init_rate": Range(0.05, 0.9)}
    access = frozenset({"retain", "forget"})
    version = 2  # v2: no augmentation of unlearning data (the authors' loaders have none)
    scenarios = frozenset(SCENARIOS)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Re-initialises and fine-tunes `model` in place."""
        c = self.cfg
        model.train()
        with ctx.phase("reinit"):
            snip_gradients(model, ctx, c.batch_size)
            masks = reinit_small_gradients(model, c.init_rate, c.slow_factor, ctx.rng)
        model.zero_grad(set_to_none=True)

        def mask_gradients() -> None:
            for conv, mask in masks.items():
                conv.weight.grad.mul_(mask)

        x, y = ctx.retain()
        opt = make_optimizer(model.parameters(), "sgd", c.lr, c.momentum, c.weight_decay, nesterov=False)
        set_lr(opt, c.lr * linear_annealing_factor(0, c.epochs))
        with ctx.phase("finetune"):
            train_epochs(model, x, y, opt, epochs=c.epochs, batch_size=c.batch_size, generator=ctx.rng,
                         augment=ctx.augment, what="msg fine-tuning", before_step=mask_gradients,
                         on_epoch=lambda done, total: set_lr(opt, c.lr * linear_annealing_factor(done, total)))
        return model
