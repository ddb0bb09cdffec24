"""CF-k (catastrophic forgetting of the last k blocks): freeze the model but its last k blocks and head, and fine-tune
those on the retain set.

Paper: Goel, Prabhu, Sanyal, Lim, Torr, Kumaraguru, "Towards Adversarial Evaluation of Machine Unlearning",
arXiv:2201.06640 (CF-k); as Kurmanji et al. run it for SCRUB, NeurIPS 2023, arXiv:2302.09880.
Authors' code: meghdadk/SCRUB@98ffb11 `small_scale_unlearning.ipynb` (cells `fk_fientune`, `run_train_epoch`, `l2_penalty`
and the CF-k cell), as xcadet/deepunlearn@6830ff6 `munl/unlearning/catastrophic_forgetting_k.py` ports it: every
parameter frozen, then the last k blocks and the classifier unfrozen (ResNet: layer4 + fc for k = 1); plain SGD
(no momentum, no weight decay) at lr 0.01 for 10 epochs over retain-train; the loss is cross-entropy +
wd / 2 * ||theta - theta_start||^2 over the trainable parameters with wd = 0.1 (the notebook's args.weight_decay,
DeepUnlearn's sgda_weight_decay); the lr is multiplied by 0.1 for each of 10, 15 and 20 that the 0-based epoch index
exceeds (never within 10 epochs); `run_train_epoch` calls model.eval(), so BatchNorm statistics stay the
original's; batch size 256
(DeepUnlearn's ORIGINAL_BATCH_SIZE).
Deviations:
- "Block" is defined per model family in `unlearnbench.models.layouts` (mlp: a hidden Linear layer; cnn: a conv stage or the
  dense layer; resnet18: a residual stage; allcnn: a group of convs up to a stride-2 one); the head is always
  trained. The SCRUB notebook unfreezes layer4 alone for its ResNet (not fc); DeepUnlearn adds the classifier, as here.
- The lr decay: the notebook's milestones (10, 15, 20: never within 10 epochs) applied to the CF-k lr; the notebook
  multiplies its SCRUB lr (5e-4) instead, and DeepUnlearn decays the CF-k lr at 50/80/90 % of the epochs (lr 1e-3
  in epochs 7-9 and 1e-4 in epoch 10 of 10): `--set cf_k.lr_decay_epochs=5,8,9` runs DeepUnlearn's.
- Batches of 256 (DeepUnlearn); the notebook's retain loader uses 128.
- No augmentation, as both authors' loaders (`get_loaders(augment=False)`; DeepUnlearn's test transform).
- A non-finite loss fails the cell as 'diverged'.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from unlearnbench.core.config import require_non_negative, require_positive
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.space import EPOCHS, LEARNING_RATE
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.models.layouts import last_blocks
from unlearnbench.models.schedules import milestones, step_decayed
from unlearnbench.models.training import l2_penalty, make_optimizer, set_lr, train_epochs


@dataclass(frozen=True)
class CFkConfig:
    """CF-k hyperparameters (SCRUB's small-scale notebook, DeepUnlearn's port)."""

    k: int = 1  # blocks below the head that are trained (DeepUnlearn ORIGINAL_NUM_BLOCKS = 1; SCRUB: layer4)
    lr: float = 0.01  # plain SGD lr (notebook: args.cfk_lr = 0.01)
    epochs: int = 10  # passes over retain-train, 0: the original's epoch count (notebook: args.cfk_epochs = 10)
    l2_to_start: float = 0.1  # wd of the wd / 2 * ||theta - theta_start||^2 term (notebook: args.weight_decay)
    lr_decay_epochs: str = "10,15,20"  # x lr_decay_rate after each (notebook: args.lr_decay_epochs)
    lr_decay_rate: float = 0.1  # (notebook: args.lr_decay_rate)
    batch_size: int = 256  # (DeepUnlearn: ORIGINAL_BATCH_SIZE = 256)

    def __post_init__(self) -> None:
        require_positive(self, "k", "lr", "batch_size", "lr_decay_rate")
        require_non_negative(self, "epochs", "l2_to_start")
        milestones(self.lr_decay_epochs)


def finetune_last_blocks(model: nn.Module, ctx: UnlearnContext, cfg: CFkConfig, blocks: list[nn.Module]) -> nn.Module:
    """Trains only `blocks` on retain-train in eval mode, pulled to their starting weights (SCRUB's fk_finetune)."""
    model.requires_grad_(False)
    trainable = [p for block in blocks for p in block.parameters()]
    for p in trainable:
        p.requires_grad_(True)
    start = [p.detach().clone() for p in trainable]

    def loss(logits: Tensor, labels: Tensor, inputs: Tensor) -> Tensor:
        return F.cross_entropy(logits, labels) + l2_penalty(trainable, start, cfg.l2_to_start)

    x, y = ctx.retain()
    opt = make_optimizer(trainable, "sgd", cfg.lr, momentum=0.0)
    marks = milestones(cfg.lr_decay_epochs)

    def decay(epoch: int, total: int) -> None:  # `epoch` epochs done: the next one's 0-based index
        set_lr(opt, step_decayed(cfg.lr, epoch, marks, cfg.lr_decay_rate))

    train_epochs(model, x, y, opt, epochs=cfg.epochs or ctx.recipe.epochs, batch_size=cfg.batch_size,
                 generator=ctx.rng, augment=ctx.augment,
                 what="last-k fine-tuning", loss_fn=loss, on_epoch=decay, train_mode=False)
    return model.requires_grad_(True)


@register_method("cf_k")
class CFk(Method):
    """Fine-tunes the last k blocks and the head on retain-train, the rest frozen."""

    Config = CFkConfig
    search_space = {"lr": LEARNING_RATE, "epochs": EPOCHS}
    access = frozenset({"retain"})
    version = 2  # v2: no augmentation of unlearning data (the authors' loaders have none)
    scenarios = frozenset(SCENARIOS)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Fine-tunes the tail of `model` in place."""
        blocks = last_blocks(ctx.model_name, model, self.cfg.k)
        with ctx.phase("finetune_last_k"):
            return finetune_last_blocks(model, ctx, self.cfg, blocks)
