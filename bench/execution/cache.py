"""On-disk cache of trained models (originals, retrained references), keyed by a content hash."""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

try:
    import fcntl
except ImportError:  # not POSIX: no cross-process lock, atomic renames still keep files whole
    fcntl = None  # type: ignore[assignment]

import torch
from torch import nn

from unlearnbench.core.errors import UserError

CACHE_ENV = "UNLEARNBENCH_CACHE"
FORMAT = 2  # bump when the file layout changes (2: checksum and measurement environment)


def default_cache_dir() -> Path:
    """$UNLEARNBENCH_CACHE, else $XDG_CACHE_HOME/unlearnbench, else ~/.cache/unlearnbench."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "unlearnbench"


def checksum(payload: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the training payload and every tensor's name, dtype, shape and bytes, in key order."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict, detached, on the CPU (what every saved file holds)."""
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save to a temporary file beside `path`, then a rename: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def warn(message: str) -> None:
    """One warning line on stderr (the run goes on)."""
    print(f"unlearnbench: warning: {message}", file=sys.stderr)


def content_key(payload: dict[str, Any]) -> str:
    """A stable hash of a JSON-able description of how a model was made."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class TrainingTime:
    """Seconds a model's training took and where they were measured (device, threads, machine load, date)."""

    seconds: float
    measured: dict[str, Any] = field(default_factory=dict)


class ModelCache:
    """Saves and loads state dicts under `root`, verifying the key and the architecture on load."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise UserError(f"the model cache {str(self.root)!r} is a file, not a folder: give --cache-dir a folder")

    def path(self, payload: dict[str, Any]) -> Path:
        """Where the model described by `payload` is stored."""
        return self.root / f"{payload.get('kind', 'model')}-{content_key(payload)}.pt"

    @contextmanager
    def lock(self, payload: dict[str, Any]) -> Iterator[None]:
        """Holds an exclusive inter-process lock on one key, so concurrent workers train it only once."""
        path = self.path(payload).with_suffix(".lock")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a")
        except OSError as exc:  # a read-only cache can still be read; concurrent trainings are then not merged
            warn(f"cannot lock {path} ({exc.strerror or exc}); going on without a lock")
            yield
            return
        with handle:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def load(self, payload: dict[str, Any], model: nn.Module) -> Optional[TrainingTime]:
        """Loads weights into `model` and returns the stored training time; None when absent or invalid."""
        path = self.path(payload)
        if not path.exists():
            return None
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            stored_payload = json.loads(json.dumps(payload, default=str))
            if blob.get("format") != FORMAT or blob.get("payload") != stored_payload:
                raise ValueError("it was written for another key or by another unlearnbench")
            state = blob["state_dict"]
            if blob.get("checksum") != checksum(stored_payload, state):
                raise ValueError("its checksum does not match: the file is damaged")
            if not all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point()):
                raise ValueError("it holds NaN/inf weights")
            model.load_state_dict(state, strict=True)
            return TrainingTime(float(blob["train_seconds"]), dict(blob.get("measured") or {}))
        except Exception as exc:  # any unreadable, damaged or mismatched file is retrained, never trusted
            reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            warn(f"ignoring cached model {path} ({reason}); retraining it")
            return None

    def save(self, payload: dict[str, Any], model: nn.Module, time: TrainingTime) -> Path:
        """Writes the model atomically (temporary file, then rename) so readers never see half a file; a cache that
        cannot be written is a warning, never a failed run."""
        path = self.path(payload)
        try:
            self._write(path, payload, model, time)
        except OSError as exc:
            warn(f"cannot write {path} ({exc.strerror or exc}); the model is not cached")
        return path

    def _write(self, path: Path, payload: dict[str, Any], model: nn.Module, time: TrainingTime) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        stored_payload = json.loads(json.dumps(payload, default=str))
        state = cpu_state(model)
        blob = {
            "format": FORMAT,
            "payload": stored_payload,
            "train_seconds": float(time.seconds),
            "measured": json.loads(json.dumps(time.measured, default=str)),
            "state_dict": state,
            "checksum": checksum(stored_payload, state),
        }
        atomic_save(blob, path)
