"""Metrics: a registry of scoring functions and of every reported value's declared semantics."""
from __future__ import annotations

from unlearnbench.metrics.base import (METRICS, VALUES, DeepInputs, MetricInputs, MetricSpec, MetricValue, Outputs,
                                       compute_metrics, declare, defined_values, register_metric)
from unlearnbench.metrics import accuracy, mia, lira, distance, deep  # noqa: F401  (registers the built-in metrics)
from unlearnbench.metrics.summary import (gap_metrics, mean_distance, objective_metrics, setting_summary,
                                         summary_metrics)

__all__ = ["METRICS", "VALUES", "DeepInputs", "MetricInputs", "MetricSpec", "MetricValue", "Outputs", "compute_metrics", "declare", "defined_values",
           "register_metric", "gap_metrics", "mean_distance", "objective_metrics", "setting_summary", "summary_metrics"]
