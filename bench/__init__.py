"""unlearnbench: a benchmark harness for machine unlearning in image classifiers."""
from __future__ import annotations

__version__ = "0.1.0"
