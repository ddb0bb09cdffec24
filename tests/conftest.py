"""Shared fixtures: a tiny synthetic dataset, isolated cache/out folders, and a CLI runner."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import load_tiny
from unlearnbench.cli import main
from unlearnbench.data import DATASETS
from unlearnbench.plugins import load_plugins

load_plugins()
if "tiny" not in DATASETS:
    DATASETS.add("tiny", load_tiny)


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
