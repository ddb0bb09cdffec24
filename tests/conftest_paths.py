"""Where the real MNIST files are, and a skip marker for tests that need them."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

MNIST_ROOT = Path(os.environ.get("UNLEARNBENCH_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
HAVE_MNIST = (MNIST_ROOT / "MNIST" / "raw" / "train-images-idx3-ubyte").exists()
needs_mnist = pytest.mark.skipif(not HAVE_MNIST,
                                 reason=f"MNIST files not found under {MNIST_ROOT} (set UNLEARNBENCH_DATA)")
