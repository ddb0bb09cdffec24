"""Unlearned models kept beside the store: one checksummed file per cell, loaded back by `load_model`."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unlearnbench.errors import UserError
from unlearnbench.models import build_model

FORMAT = 1


def weights_digest(state: dict[str, torch.Tensor]) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes, in key order."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(tensor.numpy().tobytes() if tensor.dtype != torch.bfloat16 else tensor.view(torch.int16).numpy()
                      .tobytes())
    return digest.hexdigest()


def model_file_name(row: dict[str, Any]) -> str:
    """`<method>-seed<seed>-<cell key>.pt`: one file per cell (the cell key names setting, config and version)."""
    return f"{row['method']}-seed{row['seed']}-{row.get('cell_key') or 'nokey'}.pt"


def save_model(model: nn.Module, folder: Path, row: dict[str, Any], input_shape: tuple[int, ...],
               num_classes: int) -> dict[str, str]:
    """Writes `model` (atomically) with what rebuilds it; returns {"file", "sha256"} for the row."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        digest = weights_digest(state)
        payload = {"format": FORMAT, "state_dict": state, "sha256": digest, "architecture": row["model"],
                   "input_shape": list(input_shape), "num_classes": num_classes,
                   "cell": {k: row.get(k) for k in ("dataset", "model", "forget", "seed", "method", "method_version",
                                                     "params", "cell_key")}}
        target = folder / model_file_name(row)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as handle:
            torch.save(payload, handle)
        os.replace(handle.name, target)
    except OSError as exc:
        raise UserError(f"cannot save unlearned models to {str(folder)!r}: {exc.strerror or exc}; give --out a "
                        f"writable folder or leave --save-models off") from None
    return {"file": target.name, "sha256": digest}


def load_model(path: Path | str) -> nn.Module:
    """The unlearned model saved at `path`, rebuilt on the CPU after its checksum is verified."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no saved model at {str(path)!r}: run with save_models=True (--save-models) first")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: torch raises several kinds
        raise UserError(f"{str(path)!r} is not a readable unlearnbench model file ({type(exc).__name__}); it may be "
                        f"damaged: run the cell again with --save-models") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or "state_dict" not in payload:
        raise UserError(f"{str(path)!r} is not an unlearnbench model file (format {FORMAT})")
    if weights_digest(payload["state_dict"]) != payload["sha256"]:
        raise UserError(f"{str(path)!r} fails its checksum: the weights changed since they were saved; run the cell "
                        f"again with --save-models")
    model = build_model(payload["architecture"], tuple(payload["input_shape"]), payload["num_classes"], seed=0)
    model.load_state_dict(payload["state_dict"])
    return model
