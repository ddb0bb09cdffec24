"""Shared fixtures: a tiny synthetic dataset, isolated cache/out folders, a CLI runner and a tunable test method."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

import unlearnbench  # noqa: F401  first: sets OpenMP's wait policy before torch loads (helpers import torch)
from helpers import DEVICES, Shrink, load_tiny, registered_methods
from unlearnbench.cli.main import main
from unlearnbench.core.plugins import load_plugins
from unlearnbench.data.loading import DATASETS
from unlearnbench.speed import bench as speed

load_plugins()
if "tiny" not in DATASETS:
    DATASETS.add("tiny", load_tiny)


@pytest.fixture(autouse=True)
def short_peak_measurement(monkeypatch):
    """Tests check the peak's plumbing, not its value: a tenth of a second of products is enough."""
    monkeypatch.setattr(speed, "PEAK_SECONDS", 0.1)


@pytest.fixture(scope="module", params=DEVICES)
def device(request) -> str:
    """Each device this machine has (module scope, so module-scoped settings can be built per device)."""
    return request.param


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


@pytest.fixture(scope="module")
def shrink_method() -> Iterator[str]:
    """Shrink registered as "test_shrink" (a tunable method) for a module's tests, removed after them."""
    with registered_methods(test_shrink=Shrink):
        yield "test_shrink"
