"""Random labels: train the forget samples towards freshly drawn random labels, then repair on the retain set.

Paper: Golatkar, Achille, Soatto, "Eternal Sunshine of the Spotless Net", CVPR 2020, arXiv:1911.04933 (random
labelling baseline); recipe as Fan et al., "SalUn", ICLR 2024, arXiv:2310.12508, whose RL is SalUn without a mask.
Authors' code: OPTML-Group/Unlearn-Saliency `Classification/unlearn/RL.py` (the CIFAR-10 branch): every epoch one pass
over forget-train with labels from `torch.randint(0, num_classes)` (a drawn label can equal the true one), then one
pass over retain-train; SGD momentum 0.9, weight decay 5e-4, model in train mode; `--unlearn_lr 0.013
--unlearn_epochs 10`, batch size 256 (arg_parser).
Batches read through the train transform (random crop and flip on CIFAR), as the authors' loaders.
Deviations: the random labels of a pass are drawn at once for all forget rows (the authors' code draws per batch: the
same distribution); on 100-class datasets the authors' code runs one shuffled pass over the union of relabelled forget
rows and retain rows per epoch (`unlearn/RL.py`, CIFAR-100/TinyImagenet branch), here the CIFAR-10 branch runs on
every dataset; a non-finite loss fails the cell as 'diverged'.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import nn

from unlearnbench.core.config import SGDConfig
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.space import EPOCHS, LEARNING_RATE
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.models.training import make_optimizer, train_epochs


@dataclass(frozen=True)
class RandomLabelsConfig(SGDConfig):
    """Random-label hyperparameters (SalUn's RL script defaults)."""

    lr: float = 0.013  # SGD lr (SalUn scripts: --unlearn_lr 0.013)
    epochs: int = 10  # forget + retain passes (SalUn: --unlearn_epochs 10)
    momentum: float = 0.9  # SGD momentum, heavy-ball (SalUn unlearn/impl.py)
    weight_decay: float = 5e-4  # L2 penalty (SalUn arg_parser)
    batch_size: int = 256  # (SalUn arg_parser)


@register_method("random_labels")
class RandomLabels(Method):
    """Each epoch: forget samples on uniformly random labels, then the retain set on its true labels."""

    Config = RandomLabelsConfig
    search_space = {"lr": LEARNING_RATE, "epochs": EPOCHS}
    access = frozenset({"forget", "retain"})
    augments = True  # the authors' unlearning loaders read through the train transform
    scenarios = frozenset(SCENARIOS)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Relabels and repairs `model` in place."""
        c = self.cfg
        opt = make_optimizer(model.parameters(), "sgd", c.lr, c.momentum, c.weight_decay, nesterov=False)
        with ctx.phase("random_labels"):
            random_label_epochs(model, ctx, opt, c.epochs, c.batch_size)
        return model


def random_label_epochs(model: nn.Module, ctx: UnlearnContext, opt: torch.optim.Optimizer, epochs: int,
                        batch_size: int, before_step: Optional[Callable[[], None]] = None) -> None:
    """SalUn's RL schedule: each epoch a forget pass on fresh random labels, then a retain pass (train mode)."""
    (x_f, _), (x_r, y_r) = ctx.forget(), ctx.retain()
    for _ in range(epochs):
        # Any class, the true one included, as the authors' torch.randint draws.
        y_random = torch.randint(0, ctx.num_classes, (len(x_f),), generator=ctx.rng, device=ctx.device)
        for x, y, what in ((x_f, y_random, "random-label forget"), (x_r, y_r, "random-label retain")):
            train_epochs(model, x, y, opt, epochs=1, batch_size=batch_size, generator=ctx.rng, augment=ctx.augment,
                         what=what, before_step=before_step)
