"""DELETE: distil the forget samples towards the original's own prediction with the true class masked out.

Paper: Zhou et al., "Decoupled Distillation to Erase: A General Unlearning Method for Any Class-centric Tasks",
CVPR 2025, arXiv:2503.23751.
Authors' code: shaaaaron/DELETE@60018a1 `method/delete.py` (`delete`, soft_label "inf"): a frozen copy of the original
in eval mode gives logits on each forget batch; the true class's logit is set to -1e10 and the softmax of the rest is
the target; the loss is `nn.KLDivLoss(reduction='batchmean')` of the student's log-softmax; forget data only; SGD
momentum 0.9 without weight decay; student in train mode;
`config/cifar10_resnet18.yaml`: unlearn_rate 1e-4, unlearn_epochs 20, batch_size 128 (`cifar100_resnet18.yaml`:
unlearn_rate 5e-5, the CIFAR-100 default here). Batches read through the train transform (random crop and flip,
`utils.py:207-213`, on unless `--wo_dataaug`).
Deviations: the authors' optional `disable_bn` (BatchNorm in eval mode) is not offered; its default, train mode,
is what runs. The frozen teacher is the harness's copy of the original (`ctx.teacher`), as the authors' deep
copy; a non-finite loss fails the cell as 'diverged'. In sub-class forgetting the masked class is the sample's
superclass, the label the model was trained on.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unlearnbench.core.config import require_non_negative, require_positive
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.space import EPOCHS, LEARNING_RATE
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.models.training import make_optimizer, train_epochs

MASKED_LOGIT = -1e10  # the authors' value for the true class before the softmax


@dataclass(frozen=True)
class DeleteConfig:
    """DELETE hyperparameters (config/cifar10_resnet18.yaml)."""

    lr: float = 1e-4  # SGD lr (unlearn_rate: 1e-4)
    epochs: int = 20  # passes over forget-train (unlearn_epoch: 20)
    momentum: float = 0.9  # (method/delete.py: torch.optim.SGD(..., momentum=0.9), no weight decay)
    batch_size: int = 128  # (batch_size: 128)

    def __post_init__(self) -> None:
        require_positive(self, "lr", "epochs", "batch_size")
        require_non_negative(self, "momentum")


def masked_target(teacher_logits: Tensor, labels: Tensor) -> Tensor:
    """The softmax of the teacher's logits with each row's true class set to -1e10 (probability 0)."""
    masked = teacher_logits.clone()
    masked[torch.arange(len(labels), device=labels.device), labels] = MASKED_LOGIT
    return F.softmax(masked, dim=1)


def delete_loss(student_logits: Tensor, target: Tensor) -> Tensor:
    """KL(target || student) summed over classes, averaged over the batch (KLDivLoss 'batchmean')."""
    return F.kl_div(F.log_softmax(student_logits, dim=1), target, reduction="batchmean")


@register_method("delete")
class Delete(Method):
    """Forget samples are pulled towards the original's distribution over the other classes."""

    Config = DeleteConfig
    search_space = {"lr": LEARNING_RATE, "epochs": EPOCHS}
    access = frozenset({"forget", "teacher"})
    augments = True  # the authors' unlearning loaders read through the train transform
    # The masked target only means "not this class" where the retrained model also never predicts it: whole
    # (sub)classes. In random forgetting the retrained model still predicts y (the DELETE paper's class-centric scope).
    scenarios = frozenset({"class", "subclass"})
    model_defaults = {"cifar100/resnet18": {"lr": 5e-5}}  # config/cifar100_resnet18.yaml
    version = 2  # v2: CIFAR-100's own lr, as the authors' config

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Distils `model` in place on forget-train."""
        c = self.cfg
        x, y = ctx.forget()
        teacher = ctx.teacher()

        def loss(logits: Tensor, labels: Tensor, inputs: Tensor) -> Tensor:
            with torch.no_grad():
                target = masked_target(teacher(inputs), labels)
            return delete_loss(logits, target)

        opt = make_optimizer(model.parameters(), "sgd", c.lr, c.momentum, 0.0, nesterov=False)
        with ctx.phase("distil"):
            train_epochs(model, x, y, opt, epochs=c.epochs, batch_size=c.batch_size, generator=ctx.rng,
                         augment=ctx.augment, what="delete distillation", loss_fn=loss)
        return model
