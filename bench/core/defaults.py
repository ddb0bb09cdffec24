"""Defaults every entry point shares (command line, Python API, runner), in a module that loads no torch."""
from pathlib import Path

DEFAULT_OUT = Path("unlearnbench-out")  # where runs are stored unless --out / out= says otherwise
DEFAULT_METHODS = ("original", "retrain", "retrain_independent", "finetune", "gradient_ascent", "unsir")
DEFAULT_TUNE_SEED = 1000  # not among the seeds a report shows (0, 1, 2, ...): tuning never sees a reported draw
