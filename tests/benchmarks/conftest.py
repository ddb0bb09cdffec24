"""Benchmarks are deselected from the default run; `pytest -m benchmark tests/benchmarks` runs them."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ helpers


def pytest_collection_modifyitems(items):
    for item in items:
        if "benchmarks" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.benchmark)
