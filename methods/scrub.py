"""SCRUB: a student starts as the original and is pushed away from it (the teacher) on forget data while staying
close to it, and correct, on retain data.

Paper: Kurmanji, Triantafillou, Hayes, Triantafillou, "Towards Unbounded Machine Unlearning", NeurIPS 2023,
arXiv:2302.09880.
Authors' code: meghdadk/SCRUB `thirdparty/repdistiller/helper/loops.py` (`train_distill`), `distiller_zoo/KD.py`
(`DistillKL`: KL(softmax(t/T) || softmax(s/T)) summed, x T^2 / batch) and `large_scale_unlearning.ipynb`: teacher =
the frozen original in eval mode, student = a copy in train mode; for epoch 1..`epochs`: if epoch <= `msteps`, one
pass over forget-train minimising -KL_T (the max step), then every epoch one pass over retain-train minimising
gamma * CE + alpha * KL_T (the min step); SGD lr 5e-4, momentum 0.9, weight decay 5e-4; CIFAR-10 defaults: 3 epochs,
msteps 2, kd_T 4, gamma 0.99, alpha 0.001; the loaders that actually run use batches of 512 (forget) and 256
(retain): the `sgda_batch_size` / `del_batch_size` arguments (128 / 32) are never used; before each epoch e
(1-based) `adjust_learning_rate` sets lr = 5e-4 * 0.1 ** #(milestones 3, 5, 9 below e), so within 3 epochs the
rate is constant (`lr_decay_epochs`, `lr_decay_rate`: it decays with `--set scrub.epochs=10`). No augmentation:
the notebook's loaders are `get_loaders(augment=False)`.
The small-scale notebook's recipe (small_scale_unlearning.ipynb cells 26, 30: Adam, lr 5e-4, weight decay 0.1,
10 epochs, msteps 3, kd_T 2, gamma 1, alpha 0.5, milestones 5, 8, 9, batches 32 retain / 64 forget) is
`--set scrub.optimizer=adam --set scrub.weight_decay=0.1 --set scrub.epochs=10 --set scrub.msteps=3
--set scrub.kd_temperature=2 --set scrub.gamma=1 --set scrub.alpha=0.5 --set scrub.lr_decay_epochs=5,8,9
--set scrub.retain_batch_size=32 --set scrub.forget_batch_size=64`.
Deviations:
- Every scenario runs the large-scale (CIFAR-10, class-wise) recipe; the notebook's sample-forgetting runs use the
  small-scale one above.
- BatchNorm follows the authors' code: the student is in train mode on forget-only batches too (the CIFAR-10 run used
  `--disable-bn`; with BatchNorm the max steps move running statistics towards the forget set).
- A non-finite loss fails the cell as 'diverged'.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unlearnbench.core.config import require_choice, require_non_negative, require_positive
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.space import LEARNING_RATE, Range
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.models.schedules import milestones, step_decayed
from unlearnbench.models.training import make_optimizer, set_lr, train_epochs


@dataclass(frozen=True)
class SCRUBConfig:
    """SCRUB hyperparameters (the authors' CIFAR-10 settings)."""

    lr: float = 5e-4  # SGD lr (sgda_learning_rate)
    epochs: int = 3  # sgda_epochs
    msteps: int = 2  # epochs that start with a max step on forget-train
    kd_temperature: float = 4.0  # kd_T
    gamma: float = 0.99  # weight of the retain cross-entropy
    alpha: float = 0.001  # weight of the retain distillation term
    momentum: float = 0.9  # SGD momentum (sgda_momentum; Adam has none)
    weight_decay: float = 5e-4  # coupled weight decay (sgda_weight_decay)
    forget_batch_size: int = 512  # the forget loader's real batch size
    retain_batch_size: int = 256  # the retain loader's real batch size
    optimizer: str = "sgd"  # args.optim: sgd (large-scale notebook) or adam (small-scale notebook)
    lr_decay_epochs: str = "3,5,9"  # adjust_learning_rate's milestones (args.lr_decay_epochs)
    lr_decay_rate: float = 0.1  # (args.lr_decay_rate)

    def __post_init__(self) -> None:
        require_positive(self, "lr", "epochs", "kd_temperature", "forget_batch_size", "retain_batch_size",
                         "lr_decay_rate")
        require_non_negative(self, "msteps", "gamma", "alpha", "momentum", "weight_decay")
        require_choice(self, "optimizer", ("sgd", "adam"))
        milestones(self.lr_decay_epochs)


def distill_kl(student: Tensor, teacher: Tensor, t: float) -> Tensor:
    """DistillKL: KL(softmax(teacher / T) || softmax(student / T)) summed, times T^2, divided by the batch size."""
    kl = F.kl_div(F.log_softmax(student / t, dim=1), F.softmax(teacher / t, dim=1), reduction="sum")
    return kl * t * t / len(student)


@register_method("scrub")
class SCRUB(Method):
    """Alternating max steps on forget data and min steps on retain data against the frozen original."""

    Config = SCRUBConfig
    search_space = {"lr": LEARNING_RATE, "msteps": Range(0, 3), "alpha": Range(1e-4, 1.0, log=True)}
    access = frozenset({"retain", "forget", "teacher"})
    version = 2  # v2: no augmentation of unlearning data (the authors' loaders have none)
    scenarios = frozenset(SCENARIOS)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Runs SCRUB with `model` as the student, in place."""
        c = self.cfg
        (x_f, y_f), (x_r, y_r) = ctx.forget(), ctx.retain()
        teacher = ctx.teacher()

        def teacher_logits(inputs: Tensor) -> Tensor:
            with torch.no_grad():
                return teacher(inputs)

        def max_loss(logits: Tensor, labels: Tensor, inputs: Tensor) -> Tensor:
            return -distill_kl(logits, teacher_logits(inputs), c.kd_temperature)

        def min_loss(logits: Tensor, labels: Tensor, inputs: Tensor) -> Tensor:
            return (c.gamma * F.cross_entropy(logits, labels)
                    + c.alpha * distill_kl(logits, teacher_logits(inputs), c.kd_temperature))

        opt = make_optimizer(model.parameters(), c.optimizer, c.lr, c.momentum, c.weight_decay, nesterov=False)
        marks = milestones(c.lr_decay_epochs)
        for epoch in range(1, c.epochs + 1):
            set_lr(opt, step_decayed(c.lr, epoch, marks, c.lr_decay_rate))
            if epoch <= c.msteps:
                with ctx.phase("max"):
                    train_epochs(model, x_f, y_f, opt, epochs=1, batch_size=c.forget_batch_size, generator=ctx.rng,
                                 augment=ctx.augment, what=f"SCRUB max step (epoch {epoch})", loss_fn=max_loss)
            with ctx.phase("min"):
                train_epochs(model, x_r, y_r, opt, epochs=1, batch_size=c.retain_batch_size, generator=ctx.rng,
                             augment=ctx.augment, what=f"SCRUB min step (epoch {epoch})", loss_fn=min_loss)
        return model
