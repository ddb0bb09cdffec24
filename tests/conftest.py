"""Shared fixtures: a tiny synthetic dataset, isolated cache/out folders, and a CLI runner."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import pytest
import torch

from unlearnbench.cli import main
from unlearnbench.data import DATASETS, RawSplits
from unlearnbench.plugins import load_plugins

TINY_CLASSES = 4


def make_tiny(n_train: int = 240, n_test: int = 80, seed: int = 0) -> RawSplits:
    """Four separable classes of 1x8x8 images: a fixed template per class plus noise."""
    g = torch.Generator().manual_seed(seed)
    templates = torch.rand(TINY_CLASSES, 1, 8, 8, generator=g)

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(n) % TINY_CLASSES
        x = templates[y] + 0.25 * torch.randn(n, 1, 8, 8, generator=g)
        return (x.clamp(0, 1) * 255).to(torch.uint8), y

    x_train, y_train = draw(n_train)
    x_test, y_test = draw(n_test)
    return RawSplits(x_train, y_train, x_test, y_test, num_classes=TINY_CLASSES, scale=255.0,
                     mean=(0.5,), std=(0.3,))


def _load_tiny(root: Optional[Path], download: bool) -> RawSplits:
    """Tiny synthetic test data (4 classes, 240 train / 80 test)."""
    return make_tiny()


load_plugins()
if "tiny" not in DATASETS:
    DATASETS.add("tiny", _load_tiny)

MNIST_ROOT = Path(os.environ.get("UNLEARNBENCH_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
HAVE_MNIST = (MNIST_ROOT / "MNIST" / "raw" / "train-images-idx3-ubyte").exists()
needs_mnist = pytest.mark.skipif(not HAVE_MNIST, reason=f"MNIST files not found under {MNIST_ROOT} (set UNLEARNBENCH_DATA)")


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def cli(tmp_path: Path, capsys):
    """Runs the CLI in-process with an isolated cache; returns (exit code, stdout, stderr)."""

    def invoke(*args: str) -> tuple[int, str, str]:
        argv = list(args)
        if argv and argv[0] == "run" and "--cache-dir" not in argv:
            argv += ["--cache-dir", str(tmp_path / "cache")]
        try:
            code = main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke
