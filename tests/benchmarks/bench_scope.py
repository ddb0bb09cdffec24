"""Which settings the benchmark suite covers: all of them, or (UNLEARNBENCH_BENCH_SMALLEST=1) only the smallest."""
from __future__ import annotations

import os

# CI runs the suite this way with --benchmark-disable: every benchmark body once, on digits only, no busy variant.
SMALLEST = os.environ.get("UNLEARNBENCH_BENCH_SMALLEST") == "1"
