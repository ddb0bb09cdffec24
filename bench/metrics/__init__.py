"""Metrics: a registry of scoring functions and of every reported value's declared semantics."""
from __future__ import annotations

from unlearnbench.metrics.base import (DEFINITIONS_VERSION, METRICS, VALUES, DeepInputs, MetricInputs, MetricSpec,
                                       MetricValue, Outputs, compute_metrics, declare, defined_values, mean_distance,
                                       register_metric)
from unlearnbench.metrics import accuracy, mia, lira, distance, deep  # noqa: F401  (registers the built-in metrics)
# The yardsticks first: their gaps lead the headline group, before seconds and speedup.
from unlearnbench.metrics.yardstick import DEFAULT_YARDSTICK, YARDSTICKS, Yardstick, yardstick
from unlearnbench.metrics.summary import objective_metrics, setting_summary, summary_metrics

__all__ = ["DEFINITIONS_VERSION", "METRICS", "VALUES", "DeepInputs", "MetricInputs", "MetricSpec", "MetricValue",
           "Outputs", "compute_metrics", "declare", "defined_values", "register_metric", "mean_distance",
           "objective_metrics", "setting_summary", "summary_metrics", "DEFAULT_YARDSTICK", "YARDSTICKS", "Yardstick",
           "yardstick"]
