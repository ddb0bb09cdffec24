"""Inference: a model's logits on a split, and accuracy from logits."""
from __future__ import annotations

import torch
from torch import Tensor, nn

EVAL_BATCH = 4096  # inference batch; large because no activations are kept


def predict(model: nn.Module, x: Tensor, batch_size: int = EVAL_BATCH) -> Tensor:
    """Logits of `model` on `x` in eval mode, batched, without autograd, in fp32 whatever the surrounding scope."""
    was_training = model.training
    model.eval()
    # Metrics are computed in fp32 so they compare across recipes' training precisions.
    with torch.inference_mode(), torch.autocast(x.device.type, enabled=False):
        out = torch.cat([model(chunk) for chunk in x.split(batch_size)]) if len(x) else model(x)
    model.train(was_training)
    return out


def accuracy(logits: Tensor, y: Tensor) -> float:
    """Share of rows whose argmax equals the label (nan for an empty split)."""
    if len(y) == 0:
        return float("nan")
    return (logits.argmax(1) == y).float().mean().item()
