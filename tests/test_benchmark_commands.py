"""The two benchmark commands of docs/speed.md, end to end: save a baseline, then compare and fail on a regression.

They run on one tiny benchmark in a scratch folder (its own `.benchmarks/`), with the exact flags docs/speed.md gives;
the code under test is then made slower on purpose, and the compare command must fail.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SAVE = ["-m", "benchmark", "--benchmark-autosave"]
COMPARE = ["-m", "benchmark", "--benchmark-compare", "--benchmark-compare-fail=min:20%"]
BENCHMARK = '''
import pytest
import torch
from code_under_test import accuracy

pytestmark = pytest.mark.benchmark


def test_accuracy(benchmark):
    logits, labels = torch.randn(200_000, 10), torch.randint(0, 10, (200_000,))
    benchmark.pedantic(accuracy, args=(logits, labels), rounds=30, warmup_rounds=2)
'''
FAST = "from unlearnbench.models.inference import accuracy\n"
SLOW = '''import time
from unlearnbench.models.inference import accuracy as _accuracy


def accuracy(logits, labels):
    time.sleep(0.01)  # a regression, on purpose
    return _accuracy(logits, labels)
'''


def _pytest(folder: Path, flags: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *flags, "test_tiny.py"],
                          cwd=folder, capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # two pytest processes that import torch: about 15 s on 2 cores
def test_the_compare_command_fails_on_a_deliberate_regression(tmp_path):
    (tmp_path / "test_tiny.py").write_text(BENCHMARK)
    (tmp_path / "code_under_test.py").write_text(FAST)
    saved = _pytest(tmp_path, SAVE)
    assert saved.returncode == 0, saved.stdout + saved.stderr
    assert list((tmp_path / ".benchmarks").rglob("*.json")), "no baseline was saved"
    (tmp_path / "code_under_test.py").write_text(SLOW)
    slowed = _pytest(tmp_path, COMPARE)
    assert slowed.returncode != 0 and "Performance has regressed" in slowed.stdout + slowed.stderr
