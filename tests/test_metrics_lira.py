"""The opt-in per-example attack: logit-scaled confidence, Gaussian fits, AUC and TPR at low FPR."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers import TINY_RECIPE
from unlearnbench.execution.runner import RunRequest, run
from unlearnbench.execution.store import open_store
from unlearnbench.metrics.lira import attack_summary, fit_shadows, logit_confidence


def test_logit_confidence_is_log_odds_of_the_true_class():
    logits = torch.log(torch.tensor([[0.8, 0.15, 0.05]]))
    assert logit_confidence(logits, torch.tensor([0])).item() == pytest.approx(math.log(0.8 / 0.2))


def test_model_like_the_in_shadows_is_told_apart_from_one_like_the_out_shadows():
    g = torch.Generator().manual_seed(0)
    ins = [5 + torch.randn(50, generator=g) for _ in range(4)]
    outs = [-5 + torch.randn(50, generator=g) for _ in range(4)]
    stats = fit_shadows(ins, outs)
    remembers = stats.scores(5 + torch.randn(50, generator=g))
    retrained = stats.scores(-5 + torch.randn(50, generator=g))
    summary = attack_summary(remembers, retrained)
    assert summary["lira_auc"] > 0.99 and summary["lira_tpr_at_1fpr"] > 0.9


def test_the_auc_counts_target_scores_above_reference_scores():
    # Of the 2 x 2 (target, reference) pairs, 3 have the target's score above: 4 > 1, 4 > 3.5, 3 > 1 (3 < 3.5).
    assert attack_summary(np.array([3.0, 4.0]), np.array([1.0, 3.5]))["lira_auc"] == pytest.approx(0.75)


def test_one_shadow_per_side_is_refused():
    with pytest.raises(ValueError, match="at least 2"):
        fit_shadows([torch.zeros(3)], [torch.zeros(3)])


def test_shadow_run_stores_lira_and_tells_the_original_from_the_retrained_model(tmp_path, device):
    request = RunRequest(dataset="tiny", methods=("original", "retrain"), device=device, cache_dir=tmp_path / "c",
                         recipe=TINY_RECIPE, mia_shadows=2)
    original, _ = run(request, open_store(tmp_path / "out"))
    assert original["metrics"]["lira_auc"] > 0.5 and "lira_signal" in original["metrics"]
    assert len(list((tmp_path / "c").glob("*.pt"))) == 6  # original + retrain for the seed and each shadow


def test_too_few_shadows_is_one_line_before_any_training(cli, tmp_path):
    code, _, err = cli("run", "--dataset", "tiny", "--device", "cpu", "--mia-shadows", "1", "--quiet",
                       "--out", str(tmp_path / "o"))
    assert code == 2 and "--mia-shadows 1 is too few" in err and not (tmp_path / "cache").exists()
