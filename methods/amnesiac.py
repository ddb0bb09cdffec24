"""Amnesiac unlearning: relabel every forget sample to a random wrong class and train on it with the retain set.

Paper: Graves, Nagisetty, Ganesh, "Amnesiac Machine Learning", AAAI 2021, arXiv:2010.10981.
Authors' code: if-loops/selective-synaptic-dampening `src/forget_random_strategies.py` and
`forget_full_class_strategies.py` (`amnesiac`): each forget sample gets one label drawn uniformly from the classes
other than its own (`random.choice` until it differs), the relabelled forget set is concatenated with the whole
retain set, shuffled in batches of 128, and trained for 3 epochs at lr 1e-4 (`src/unlearn.py`
`fit_one_unlearning_cycle`, Adam), the model in train mode, on un-augmented rows (`src/datasets.py`
`transform_unlearning`: ToTensor, Normalize).
Deviations: a wrong label is drawn as (y + U{1..C-1}) mod C, the same uniform distribution over the other classes
without a retry loop; a non-finite loss fails the cell as 'diverged'.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from unlearnbench.core.config import require_positive
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.space import EPOCHS, LEARNING_RATE
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.models.training import make_optimizer, train_epochs


@dataclass(frozen=True)
class AmnesiacConfig:
    """Amnesiac hyperparameters (SSD repository's amnesiac)."""

    lr: float = 1e-4  # Adam lr (fit_one_unlearning_cycle(..., lr=0.0001))
    epochs: int = 3  # (fit_one_unlearning_cycle(3, ...))
    batch_size: int = 128  # (DataLoader(unlearning_trainset, 128, shuffle=True))

    def __post_init__(self) -> None:
        require_positive(self, "lr", "epochs", "batch_size")


def wrong_labels(y: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """For each label, one of the other classes, uniformly."""
    shift = torch.randint(1, num_classes, y.shape, generator=generator, device=y.device)
    return (y + shift) % num_classes


@register_method("amnesiac")
class Amnesiac(Method):
    """Forget samples on wrong labels, mixed with the retain set, for a few Adam epochs."""

    Config = AmnesiacConfig
    search_space = {"lr": LEARNING_RATE, "epochs": EPOCHS}
    access = frozenset({"forget", "retain"})
    version = 2  # v2: no augmentation of unlearning data (the authors' loaders have none)
    scenarios = frozenset(SCENARIOS)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Trains `model` in place on the relabelled forget set plus the retain set."""
        c = self.cfg
        (x_f, y_f), (x_r, y_r) = ctx.forget(), ctx.retain()
        x = torch.cat([x_f, x_r])
        y = torch.cat([wrong_labels(y_f, ctx.num_classes, ctx.rng), y_r])
        opt = make_optimizer(model.parameters(), "adam", c.lr)
        model.train()
        with ctx.phase("amnesiac"):
            train_epochs(model, x, y, opt, epochs=c.epochs, batch_size=c.batch_size, generator=ctx.rng,
                         augment=ctx.augment, what="amnesiac")
        return model
