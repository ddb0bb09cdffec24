"""l1-sparse: fine-tune on the retain set with an l1 penalty on the weights that decays linearly to zero.

Paper: Jia et al., "Model Sparsity Can Simplify Machine Unlearning", NeurIPS 2023, arXiv:2304.04934.
Authors' code: OPTML-Group/Unlearn-Sparse `unlearn/FT.py` (`FT_l1`, `FT_iter` with `with_l1`): in epoch e (from 0) the
loss of each retain batch is CE + alpha * (1 - e / epochs) * sum_p ||p||_1 over every parameter; SGD with
heavy-ball momentum 0.9 and weight decay 5e-4 (`unlearn/impl.py`), `--unlearn_lr 0.01 --unlearn_epochs 10`, batch size
256 (arg_parser; the paper says 128, the repository's issue #4), model in train mode.
Deviations: the repository's README gives no value for alpha (its command line takes it as a variable); the default
1e-4 is the value third-party ports of the method use (an assumption, not the authors' number). A non-finite loss fails the cell as 'diverged'.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from unlearnbench.core.config import SGDConfig, require_non_negative
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.space import EPOCHS, LEARNING_RATE, Range
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.models.training import make_optimizer, train_epochs


@dataclass(frozen=True)
class L1SparseConfig(SGDConfig):
    """l1-sparse hyperparameters (Unlearn-Sparse FT_l1 script defaults)."""

    alpha: float = 1e-4  # starting l1 weight (the README sets none; third-party scripts: 1e-4)
    lr: float = 0.01  # SGD lr (--unlearn_lr 0.01)
    epochs: int = 10  # (--unlearn_epochs 10)
    momentum: float = 0.9  # heavy-ball (unlearn/impl.py)
    weight_decay: float = 5e-4  # (arg_parser)
    batch_size: int = 256  # (arg_parser; the paper: 128)

    def __post_init__(self) -> None:
        super().__post_init__()
        require_non_negative(self, "alpha")


def l1_norm(model: nn.Module) -> Tensor:
    """sum_p ||p||_1 over every parameter (Unlearn-Sparse's l1_regularization)."""
    return sum(p.abs().sum() for p in model.parameters())


@register_method("l1_sparse")
class L1Sparse(Method):
    """Retain fine-tuning whose l1 penalty decays from alpha to 0 over the epochs."""

    Config = L1SparseConfig
    search_space = {"lr": LEARNING_RATE, "epochs": EPOCHS, "alpha": Range(1e-5, 1e-2, log=True)}
    access = frozenset({"retain"})
    augments = True  # the authors' unlearning loaders read through the train transform
    scenarios = frozenset(SCENARIOS)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Fine-tunes `model` in place with the decaying l1 penalty."""
        c = self.cfg
        x, y = ctx.retain()
        opt = make_optimizer(model.parameters(), "sgd", c.lr, c.momentum, c.weight_decay, nesterov=False)
        with ctx.phase("finetune_l1"):
            for epoch in range(c.epochs):
                weight = c.alpha * (1 - epoch / c.epochs)

                def loss(logits: Tensor, labels: Tensor, inputs: Tensor, weight: float = weight) -> Tensor:
                    return F.cross_entropy(logits, labels) + weight * l1_norm(model)

                train_epochs(model, x, y, opt, epochs=1, batch_size=c.batch_size, generator=ctx.rng,
                             augment=ctx.augment, what=f"l1-sparse fine-tuning (epoch {epoch + 1})", loss_fn=loss)
        return model
