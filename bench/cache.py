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

CACHE_ENV = "UNLEARNBENCH_CACHE"
FORMAT = 1  # bump when the file layout changes


def default_cache_dir() -> Path:
    """$UNLEARNBENCH_CACHE, else $XDG_CACHE_HOME/unlearnbench, else ~/.cache/unlearnbench."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "unlearnbench"


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

    def path(self, payload: dict[str, Any]) -> Path:
        """Where the model described by `payload` is stored."""
        return self.root / f"{payload.get('kind', 'model')}-{content_key(payload)}.pt"

    @contextmanager
    def lock(self, payload: dict[str, Any]) -> Iterator[None]:
        """Holds an exclusive inter-process lock on one key, so concurrent workers train it only once."""
        path = self.path(payload).with_suffix(".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
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
            if blob.get("format") != FORMAT or blob.get("payload") != json.loads(json.dumps(payload, default=str)):
                raise ValueError("the stored key does not match")
            model.load_state_dict(blob["state_dict"], strict=True)
            return TrainingTime(float(blob["train_seconds"]), dict(blob.get("measured") or {}))
        except Exception as exc:  # any unreadable or mismatched file is retrained, never trusted
            print(f"unlearnbench: ignoring cached model {path.name} ({type(exc).__name__}: {exc}); retraining",
                  file=sys.stderr)
            return None

    def save(self, payload: dict[str, Any], model: nn.Module, time: TrainingTime) -> Path:
        """Writes the model atomically (temporary file, then rename) so readers never see half a file."""
        path = self.path(payload)
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = {
            "format": FORMAT,
            "payload": json.loads(json.dumps(payload, default=str)),
            "train_seconds": float(time.seconds),
            "measured": json.loads(json.dumps(time.measured, default=str)),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        os.close(fd)
        try:
            torch.save(blob, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path
