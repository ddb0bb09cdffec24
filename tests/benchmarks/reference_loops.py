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


def unsir_reference(model: nn.Module, retain_x: torch.Tensor, retain_y: torch.Tensor, forget_classes: tuple[int, ...],
                    cfg, seed: int) -> nn.Module:
    """UNSIR written the straightforward way (as the authors' notebook, with its two slips fixed).

    Per-class noise loops with weight gradients left on, samples kept as a Python list of (x, y) tuples and fed
    through DataLoader for impair and repair, with the notebook's per-step loss/accuracy bookkeeping.
    """
    torch.manual_seed(seed)
    noises, losses = {}, []
    for cls in forget_classes:
        noise = nn.Parameter(torch.randn(cfg.noise_batch, *retain_x.shape[1:]))
        opt = torch.optim.Adam([noise], lr=cfg.noise_lr)
        model.eval()
        for _ in range(cfg.noise_steps):
            labels = torch.full((cfg.noise_batch,), cls)
            loss = -F.cross_entropy(model(noise), labels) + cfg.noise_l2 * noise.square().sum((1, 2, 3)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        noises[cls] = noise.detach()
    retain = [(retain_x[i], retain_y[i]) for i in range(len(retain_y))]
    noisy = [(noises[cls][i], torch.tensor(cls)) for cls in forget_classes
             for _ in range(cfg.noise_copies) for i in range(cfg.noise_batch)]
    for data, lr in ((noisy + retain, cfg.impair_lr), (retain, cfg.repair_lr)):
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        running_loss, running_correct = 0.0, 0
        for xb, yb in DataLoader(data, batch_size=cfg.batch_size, shuffle=True):
            outputs = model(xb)
            loss = F.cross_entropy(outputs, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            running_loss += loss.item() * len(xb)
            running_correct += (outputs.argmax(1) == yb).sum().item()
    return model
