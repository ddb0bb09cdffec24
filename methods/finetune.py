"""Fine-tune: keep training the original on the retain data only, so the forget data fades (catastrophic forgetting).

Paper: Jia et al., "Model Sparsity Can Simplify Machine Unlearning", NeurIPS 2023, arXiv:2304.04934 (baseline FT).
Authors' code: OPTML-Group/Unlearn-Sparse, scripts: `--unlearn FT --unlearn_lr 0.01 --unlearn_epochs 10`
(SGD with heavy-ball momentum 0.9, weight decay 5e-4; `unlearn/impl.py` builds `torch.optim.SGD` without Nesterov).
Deviations: none in the recipe; batches are the setting's recipe batch size and use the dataset's augmentation.
The authors' MultiStepLR milestones (epochs 91 and 136) never fire within 10 epochs, so the lr is constant.
"""
from __future__ import annotations

from typing import Any

from dataclasses import dataclass

from torch import nn

from unlearnbench.core.config import require_non_negative, require_positive
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.space import EPOCHS, LEARNING_RATE
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.models.plain import plain_sgd_epochs
from unlearnbench.models.training import make_optimizer, train_epochs


@dataclass(frozen=True)
class FinetuneConfig:
    """Fine-tuning hyperparameters (Unlearn-Sparse FT defaults)."""

    lr: float = 0.01  # constant SGD lr, below the originals' peak (Unlearn-Sparse: 0.01)
    epochs: int = 10  # passes over retain-train (Unlearn-Sparse: 10)
    momentum: float = 0.9  # SGD momentum (Unlearn-Sparse)
    nesterov: bool = False  # Unlearn-Sparse's torch.optim.SGD is heavy-ball (unlearn/impl.py): no Nesterov
    weight_decay: float = 5e-4  # L2 penalty (Unlearn-Sparse)
    batch_size: int = 0  # 0: the setting's recipe batch size

    def __post_init__(self) -> None:
        require_positive(self, "lr", "epochs")
        require_non_negative(self, "momentum", "weight_decay", "batch_size")


def plain_finetune(model: nn.Module, cfg: Any, setting: Any) -> nn.Module:
    """Fine-tuning on retain-train with a DataLoader and plain SGD."""
    return plain_sgd_epochs(model, cfg, setting, "retain_train")


@register_method("finetune")
class Finetune(Method):
    """SGD on retain-train for a few epochs, starting from the original."""

    plain_loop = staticmethod(plain_finetune)  # timed beside the method by `unlearnbench bench`

    Config = FinetuneConfig
    search_space = {"lr": LEARNING_RATE, "epochs": EPOCHS}
    version = 2  # v2: heavy-ball momentum as the authors' code (v1 used Nesterov's, a hidden deviation)
    access = frozenset({"retain"})
    augments = True  # the authors' unlearning loaders read through the train transform
    scenarios = frozenset(SCENARIOS)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Fine-tunes `model` on retain-train in place."""
        c = self.cfg
        x, y = ctx.retain()
        opt = make_optimizer(model.parameters(), "sgd", c.lr, c.momentum, c.weight_decay, c.nesterov)
        with ctx.phase("finetune"):
            train_epochs(model, x, y, opt, epochs=c.epochs, batch_size=c.batch_size or ctx.recipe.batch_size,
                         generator=ctx.rng, augment=ctx.augment, what="fine-tuning")
        return model
