"""Metrics: a registry of scoring functions with declared semantics, and the code that runs them all."""
from __future__ import annotations

from unlearnbench.metrics.base import METRICS, MetricInputs, MetricSpec, Outputs, compute_metrics, register_metric
from unlearnbench.metrics import accuracy, distance, lira, mia  # noqa: F401  (registers the built-in metrics)
from unlearnbench.metrics.summary import GAP_METRICS, setting_summary, summary_metrics

__all__ = ["METRICS", "MetricInputs", "MetricSpec", "Outputs", "compute_metrics", "register_metric",
           "GAP_METRICS", "setting_summary", "summary_metrics"]
