"""Defaults every entry point shares (command line, Python API, runner), in a module that loads no torch."""
from pathlib import Path

DEFAULT_OUT = Path("unlearnbench-out")  # where runs are stored unless --out / out= says otherwise
DEFAULT_METHODS = ("original", "retrain", "retrain_independent", "finetune", "gradient_ascent", "unsir")
# The names `results --format` and `leaderboard --format` take; reports.table and reports.leaderboard map them to
# their renderers, and the parser offers them without importing either.
TABLE_FORMATS = ("csv", "json", "table")
LEADERBOARD_FORMAT_NAMES = ("csv", "html", "md")
SPEED_FORMATS = ("md", "text")  # `bench --format`
DEFAULT_YARDSTICK = "concerns"  # the gap definition reports rank by (unlearnbench.metrics.yardstick)
DEFAULT_TUNE_SEED = 1000  # not among the seeds a report shows (0, 1, 2, ...): tuning never sees a reported draw
