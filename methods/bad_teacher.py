"""Bad Teacher: distil the original into itself on retain data and a randomly initialised ("incompetent") teacher
on the forget data.

Paper: Chundawat, Tarun, Mandal, Kankanhalli, "Can Bad Teaching Induce Forgetting? Unlearning in Deep Networks
using an Incompetent Teacher", AAAI 2023, arXiv:2205.08096.
Authors' code: vikram2000b/bad-teaching-unlearning `unlearn.py` (`blindspot_unlearner`, `UnlearnerLoss`), as the SSD
repository runs it (`blindspot`): the student is a copy of the original in train mode; the forget samples (marked 1)
and a random 30 % of the retain samples (marked 0) are shuffled together in batches of 256; the target is
marker * softmax(random-init teacher / T) + (1 - marker) * softmax(original / T), both teachers in eval mode; the loss
is F.kl_div(log_softmax(student / T), target) with its default 'mean' reduction (it divides by batch x classes:
porting it to 'batchmean' would multiply the effective lr by the class count); Adam lr 1e-4, 1 epoch, T = 1.
Deviations: the incompetent teacher is the setting's seeded fresh model (the authors' code builds an unseeded one); a
non-finite loss fails the cell as 'diverged'.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unlearnbench.core.config import require_positive
from unlearnbench.core.errors import ConfigError
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.space import EPOCHS, LEARNING_RATE
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.models.training import make_optimizer, train_epochs


@dataclass(frozen=True)
class BadTeacherConfig:
    """Bad Teacher hyperparameters (the SSD repository's `blindspot` call)."""

    lr: float = 1e-4  # Adam lr (blindspot: lr=0.0001)
    epochs: int = 1  # (blindspot: epochs=1)
    batch_size: int = 256  # (blindspot: b_s = 256)
    temperature: float = 1.0  # KL temperature T (blindspot: KL_temperature = 1)
    retain_fraction: float = 0.3  # share of retain-train distilled from the original (random.sample(..., 0.3 n))

    def __post_init__(self) -> None:
        require_positive(self, "lr", "epochs", "batch_size", "temperature")
        if not 0 < self.retain_fraction <= 1:
            raise ConfigError(f"bad_teacher.retain_fraction must lie in (0, 1], got {self.retain_fraction!r}")


def bad_teacher_loss(student: Tensor, marker: Tensor, competent: Tensor, incompetent: Tensor, t: float) -> Tensor:
    """KL('mean' reduction) of the student to the incompetent teacher where marker is 1, the competent one where 0."""
    m = marker.view(-1, 1).to(student.dtype)
    target = m * F.softmax(incompetent / t, dim=1) + (1 - m) * F.softmax(competent / t, dim=1)
    # The authors' reduction='mean' divided by batch x classes; spelled out, since PyTorch warns that 'mean'
    # will come to mean 'batchmean'.
    return F.kl_div(F.log_softmax(student / t, dim=1), target, reduction="sum") / student.numel()


def marked_forget_and_retain(ctx: UnlearnContext, retain_fraction: float) -> tuple[Tensor, Tensor]:
    """Forget-train inputs and a random `retain_fraction` of retain-train's, with a marker: 1 forget, 0 retain
    (the authors' UnLearningData, which LoTUS reuses)."""
    (x_f, _), (x_r, _) = ctx.forget(), ctx.retain()
    keep = torch.randperm(len(x_r), generator=ctx.rng, device=ctx.device)[:int(retain_fraction * len(x_r))]
    marker = torch.cat([torch.ones(len(x_f), device=ctx.device), torch.zeros(len(keep), device=ctx.device)])
    return torch.cat([x_f, x_r[keep]]), marker


@register_method("bad_teacher")
class BadTeacher(Method):
    """The original is pulled towards a random network on forget data and towards itself on retain data."""

    Config = BadTeacherConfig
    search_space = {"lr": LEARNING_RATE, "epochs": EPOCHS}
    access = frozenset({"forget", "retain", "teacher", "random_init"})
    version = 2  # v2: no augmentation of unlearning data (the authors' loaders have none)
    scenarios = frozenset(SCENARIOS)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Distils in place into `model` (the student)."""
        c = self.cfg
        x, marker = marked_forget_and_retain(ctx, c.retain_fraction)
        competent = ctx.teacher()
        incompetent = ctx.random_init().eval().requires_grad_(False)

        def loss(logits: Tensor, marks: Tensor, inputs: Tensor) -> Tensor:
            with torch.no_grad():
                good, bad = competent(inputs), incompetent(inputs)
            return bad_teacher_loss(logits, marks, good, bad, c.temperature)

        opt = make_optimizer(model.parameters(), "adam", c.lr)
        model.train()
        with ctx.phase("distil"):
            train_epochs(model, x, marker, opt, epochs=c.epochs, batch_size=c.batch_size, generator=ctx.rng,
                         augment=ctx.augment, what="bad-teacher distillation", loss_fn=loss)
        return model
