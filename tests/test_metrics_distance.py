"""Distances to the retrained model, speedup, retrain gap and MIA signal: known answers."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from unlearnbench.metrics import (METRICS, VALUES, MetricInputs, Outputs, mean_distance, setting_summary,
                                  summary_metrics)
from unlearnbench.metrics.distance import act_dist_to_retrain, js_divergence, js_to_retrain, weight_dist_to_retrain


def _inputs(logits, ref_logits, model=None, reference=None):
    labels = torch.zeros(len(logits), dtype=torch.long)
    ours = Outputs({"forget_train": (logits, labels)})
    theirs = Outputs({"forget_train": (ref_logits, labels)})
    return MetricInputs(model, ours, reference, theirs, seed=0)


def test_distances_of_a_model_to_itself_are_zero(device):
    logits = torch.randn(10, 5, device=device)
    model = nn.Linear(3, 5).to(device)
    inputs = _inputs(logits, logits, model, model)
    assert js_to_retrain(inputs)["js_to_retrain"] == pytest.approx(0.0, abs=1e-12)
    assert act_dist_to_retrain(inputs)["act_dist_to_retrain"] == 0.0
    assert weight_dist_to_retrain(inputs)["weight_dist_to_retrain"] == 0.0


def test_js_of_disjoint_distributions_is_ln2():
    p, q = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    assert js_divergence(p, q).item() == pytest.approx(math.log(2))


def test_activation_distance_is_the_l2_distance_of_softmax_outputs():
    big = 50.0
    inputs = _inputs(torch.tensor([[big, 0.0]]), torch.tensor([[0.0, big]]))
    assert act_dist_to_retrain(inputs)["act_dist_to_retrain"] == pytest.approx(math.sqrt(2), rel=1e-6)


def test_weight_distance_is_the_l2_norm_of_the_parameter_difference(device):
    a, b = nn.Linear(4, 2).to(device), nn.Linear(4, 2).to(device)
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        b.weight += 1.0  # 8 entries differ by 1
    inputs = _inputs(torch.zeros(1, 2), torch.zeros(1, 2), a, b)
    assert weight_dist_to_retrain(inputs)["weight_dist_to_retrain"] == pytest.approx(math.sqrt(8))


def test_weight_distance_is_nan_across_architectures():
    inputs = _inputs(torch.zeros(1, 2), torch.zeros(1, 2), nn.Linear(4, 2), nn.Linear(5, 2))
    assert math.isnan(weight_dist_to_retrain(inputs)["weight_dist_to_retrain"])


def test_speedup_is_retrain_seconds_over_method_seconds():
    assert summary_metrics(time_s=2.0, retrain_seconds=30.0) == {"speedup_vs_retrain": 15.0}


def test_the_retrain_gap_is_the_mean_absolute_difference_over_the_values_both_hold():
    ours = {"a": 0.2, "b": 0.9, "c": math.nan}
    retrained = {"a": 0.5, "b": 0.4, "c": 0.1, "d": 0.3}
    # |0.2 - 0.5| = 0.3 and |0.9 - 0.4| = 0.5; c is not finite on our side and d is missing: both left out.
    assert mean_distance(ours, retrained, ("a", "b", "c", "d")) == pytest.approx(0.4)
    assert math.isnan(mean_distance(ours, retrained, ("c", "d")))


def test_signal_is_the_auc_separation_of_original_and_retrained():
    original = {"mia_entropy_auc": 0.9, "mia_svc_auc": 0.52, "mia_loss_auc": 0.5}
    retrained = {"mia_entropy_auc": 0.4, "mia_svc_auc": 0.5, "mia_loss_auc": 0.5}
    assert setting_summary(original, retrained) == pytest.approx(
        {"mia_entropy_signal": 0.5, "mia_svc_signal": 0.02, "mia_loss_signal": 0.0})


def test_every_value_a_metric_produces_is_declared_once_with_its_semantics():
    for name in METRICS.names():
        spec = METRICS.get(name)
        assert spec.produces and all(VALUES.get(v) is not None for v in spec.produces)
