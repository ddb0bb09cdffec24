"""Deep metrics (opt-in): relearn time, the retain-only attack, feature probes and CKA, with known answers."""
from __future__ import annotations

import pytest
import torch

from helpers import cell_row, tiny_setting
from unlearnbench.execution.evaluate import build_reference, score
from unlearnbench.methods.finetune import Finetune
from unlearnbench.metrics.deep import linear_cka

DEEP = ("relearn_steps", "relearn_retain_acc", "probe_forget_acc", "knn_forget_acc", "cka_to_retrain",
        "deep_metrics_s")


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """The tiny class-{0} setting's reference with deep metrics, and a scorer for any model."""
    setting = tiny_setting(tmp_path_factory.mktemp("deep"))
    reference = build_reference(setting, deep_metrics=True)
    return setting, reference, lambda model: score(model, setting, reference, 0.0)


def test_cka_is_one_for_the_same_features_up_to_rotation_and_scale():
    x = torch.randn(50, 6, generator=torch.Generator().manual_seed(0))
    rotation, _ = torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(1)))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, 3 * x @ rotation) == pytest.approx(1.0)
    assert linear_cka(x, torch.randn(50, 6, generator=torch.Generator().manual_seed(2))) < 0.5


def test_the_originals_probe_accuracy_on_the_forgotten_class_is_near_its_output_accuracy(scored):
    setting, _, score_of = scored
    metrics = score_of(setting.trained("original").model)
    assert metrics["probe_forget_acc"] >= metrics["acc_forget_test"] - 0.1


def test_a_head_that_hides_the_class_keeps_it_in_the_features(scored):
    setting, _, score_of = scored
    model = setting.trained("original").model
    with torch.no_grad():  # the class's head row zeroed and its bias pushed down: outputs hide it
        model[-1].weight[0].zero_()
        model[-1].bias[0] = -100.0
    metrics = score_of(model)
    assert metrics["acc_forget_test"] == 0.0
    assert metrics["probe_forget_acc"] >= 0.8 and metrics["knn_forget_acc"] >= 0.8


def test_the_retrained_model_takes_longer_to_relearn_than_the_original(scored):
    setting, reference, score_of = scored
    assert score_of(setting.trained("original").model)["relearn_steps"] == 0
    assert reference.metrics["relearn_steps"] > 0


def test_deep_metrics_are_opt_in_and_their_cost_is_stored(tmp_path):
    setting = tiny_setting(tmp_path)
    plain = cell_row(setting, Finetune.from_params({"epochs": "1"}))
    assert not set(DEEP) & set(plain["metrics"])
    reference = build_reference(setting, deep_metrics=True)
    metrics = score(setting.trained("original").model, setting, reference, 0.0)
    assert set(DEEP) <= set(metrics) and metrics["deep_metrics_s"] > 0


def test_random_forgetting_stores_no_probe_values(tmp_path):
    setting = tiny_setting(tmp_path, forget="random:0.2")
    metrics = score(setting.trained("original").model, setting, build_reference(setting, deep_metrics=True), 0.0)
    assert "relearn_steps" in metrics and "probe_forget_acc" not in metrics
