"""unlearnbench: a benchmark harness for machine unlearning in image classifiers."""
from __future__ import annotations

from unlearnbench import threads as _threads  # noqa: F401  first: sets OpenMP's wait policy before torch loads

__version__ = "0.1.0"
