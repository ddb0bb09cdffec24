"""Plain PyTorch reference loops (DataLoader over a TensorDataset) that the harness's loops are compared with."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def dataloader_epoch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, opt: torch.optim.Optimizer,
                     batch_size: int, seed: int) -> None:
    """One epoch the way most tutorials write it: shuffled DataLoader, per-batch step."""
    model.train()
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
