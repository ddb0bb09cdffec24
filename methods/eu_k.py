"""EU-k (exact unlearning of the last k blocks): re-initialise the last k blocks and the head, freeze the rest, and
train them on the retain set for as many epochs as the original was trained.

Paper: Goel, Prabhu, Sanyal, Lim, Torr, Kumaraguru, "Towards Adversarial Evaluation of Machine Unlearning",
arXiv:2201.06640 (EU-k); as Kurmanji et al. run it for SCRUB, NeurIPS 2023, arXiv:2302.09880.
Authors' code: meghdadk/SCRUB@98ffb11 `small_scale_unlearning.ipynb` (the EU-k cell: weights and biases of the re-trained
layers copied from the training-init checkpoint, then `fk_fientune` with args.euk_lr = 0.01 for
args.euk_epochs = training_epochs), xcadet/deepunlearn@6830ff6 `munl/unlearning/exact_unlearning_k.py` (a fresh
initialisation instead). The training loop is CF-k's (`unlearnbench.methods.cf_k`): plain SGD, the L2 pull
(wd 0.1) towards the re-initialised weights, eval mode.
Deviations:
- The re-trained blocks take their parameters from a fresh model of the setting's architecture drawn from its own
  seed stream (`ctx.random_init`: stream "random_init", not the original's "original.init"), so neither the
  notebook's training-init checkpoint nor DeepUnlearn's `init_weights`; their BatchNorm running statistics stay the
  original's, as the notebook copies weights and biases only, and eval mode uses them.
- Blocks as CF-k defines them per model family; CF-k's deviations on batch size and the lr decay apply; it trains
  for the original's epoch count (the notebook's `euk_epochs`), where DeepUnlearn trains 10 epochs.
- No augmentation, as the notebook's `get_loaders(augment=False)`; DeepUnlearn's EU-k augments its retain loader
  (`exact_unlearning_k.py:132`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.space import LEARNING_RATE, EpochShare
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.methods.cf_k import CFkConfig, finetune_last_blocks
from unlearnbench.models.layouts import last_blocks


@dataclass(frozen=True)
class EUkConfig(CFkConfig):
    """EU-k hyperparameters: CF-k's, with the original's epoch count."""

    epochs: int = 0  # 0: the original's training epochs (notebook: args.euk_epochs = training_epochs)


@register_method("eu_k")
class EUk(Method):
    """Re-initialises the last k blocks and the head, then trains them on retain-train, the rest frozen."""

    Config = EUkConfig
    search_space = {"lr": LEARNING_RATE, "epochs": EpochShare(1.0)}  # its blocks restart from scratch
    access = frozenset({"retain", "random_init"})
    version = 2  # v2: no augmentation of unlearning data (the authors' loaders have none)
    scenarios = frozenset(SCENARIOS)

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Re-initialises and re-trains the tail of `model` in place."""
        c = self.cfg
        blocks = last_blocks(ctx.model_name, model, c.k)
        fresh = last_blocks(ctx.model_name, ctx.random_init(), c.k)
        with ctx.phase("reinit_and_train_last_k"):
            with torch.no_grad():
                for block, init in zip(blocks, fresh):
                    for p, p0 in zip(block.parameters(), init.parameters()):
                        p.copy_(p0)
            return finetune_last_blocks(model, ctx, c, blocks)
