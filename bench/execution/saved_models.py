"""Unlearned models kept beside the store: one checksummed file per cell, loaded back by `load_model`."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unlearnbench.core.errors import UserError
from unlearnbench.execution.cache import atomic_save, checksum, cpu_state
from unlearnbench.models.architectures import build_model

FORMAT = 1


def model_file_name(row: dict[str, Any]) -> str:
    """`<method>-seed<seed>-<cell key>.pt`: one file per cell (the cell key names setting, config and version)."""
    return f"{row['method']}-seed{row['seed']}-{row.get('cell_key') or 'nokey'}.pt"


def save_model(model: nn.Module, folder: Path, row: dict[str, Any], input_shape: tuple[int, ...],
               num_classes: int) -> dict[str, str]:
    """Writes `model` (atomically) with what rebuilds it; returns {"file", "sha256"} for the row."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        state = cpu_state(model)
        digest = checksum({}, state)
        payload = {"format": FORMAT, "state_dict": state, "sha256": digest, "architecture": row["model"],
                   "input_shape": list(input_shape), "num_classes": num_classes,
                   "cell": {k: row.get(k) for k in ("dataset", "model", "forget", "seed", "method", "method_version",
                                                     "params", "cell_key")}}
        target = folder / model_file_name(row)
        atomic_save(payload, target)
    except OSError as exc:
        raise UserError(f"cannot save unlearned models to {str(folder)!r}: {exc.strerror or exc}; give --out a "
                        f"writable folder or leave --save-models off") from None
    return {"file": target.name, "sha256": digest}


def _read(path: Path, missing: str, unreadable: str) -> Any:
    """torch.load of a weights-only file, or a one-line UserError: `missing`, or `unreadable` with {kind} filled."""
    if not path.is_file():
        raise UserError(missing)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: torch raises several kinds
        raise UserError(unreadable.format(kind=type(exc).__name__)) from None


def load_model(path: Path | str) -> nn.Module:
    """The unlearned model saved at `path`, rebuilt on the CPU after its checksum is verified."""
    path = Path(path)
    payload = _read(path, f"no saved model at {str(path)!r}: run with save_models=True (--save-models) first",
                    f"{str(path)!r} is not a readable unlearnbench model file ({{kind}}); it may be damaged: run the "
                    f"cell again with --save-models")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or "state_dict" not in payload:
        raise UserError(f"{str(path)!r} is not an unlearnbench model file (format {FORMAT})")
    if checksum({}, payload["state_dict"]) != payload["sha256"]:
        raise UserError(f"{str(path)!r} fails its checksum: the weights changed since they were saved; run the cell "
                        f"again with --save-models")
    model = build_model(payload["architecture"], tuple(payload["input_shape"]), payload["num_classes"], seed=0)
    model.load_state_dict(payload["state_dict"])
    return model


def checkpoint_of(model: nn.Module, folder: Path) -> Path:
    """Saves a model the user brings as a state-dict checkpoint named by its weights' hash; returns the path."""
    state = cpu_state(model)
    path = folder / f"{checksum({}, state)[:16]}.pt"
    if not path.exists():
        atomic_save(state, path)
    return path


def file_digest(path: Path | str) -> str:
    """sha256 of a file's bytes (a supplied checkpoint's identity in cell keys and rows)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_weights_into(model: nn.Module, path: Path | str, what: str) -> nn.Module:
    """Loads a checkpoint (a state dict saved with torch.save, or an unlearnbench model file) into `model`, with a
    one-line UserError naming a missing file, an unreadable one, or the first layer whose name or shape differs."""
    path = Path(path)
    payload = _read(path, f"{what} checkpoint {str(path)!r} does not exist",
                    f"{what} checkpoint {str(path)!r} is not a readable state dict ({{kind}}); save it with "
                    f"torch.save(model.state_dict(), path)")
    state = payload.get("state_dict", payload) if isinstance(payload, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{what} checkpoint {str(path)!r} holds no state dict; save it with "
                        f"torch.save(model.state_dict(), path)")
    expected = model.state_dict()
    for name, tensor in expected.items():
        if name not in state:
            raise UserError(f"{what} checkpoint {str(path)!r} has no layer {name!r}: it was not saved from this "
                            f"setting's architecture (--model)")
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise UserError(f"{what} checkpoint {str(path)!r}: layer {name!r} has shape {tuple(state[name].shape)}, "
                            f"this setting's model needs {tuple(tensor.shape)} (another --model, input shape or "
                            f"number of classes)")
    extra = sorted(set(state) - set(expected))
    if extra:
        raise UserError(f"{what} checkpoint {str(path)!r} has a layer {extra[0]!r} this setting's model lacks")
    model.load_state_dict(state)
    return model
