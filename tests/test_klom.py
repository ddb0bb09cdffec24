"""KLOM: the KL divergence of per-example margin distributions, binned as its authors bin them."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from unlearnbench.metrics.klom import binned_kl, klom, klom_summary, margins


def test_the_margin_is_the_true_logit_minus_the_log_sum_exp_of_the_others():
    logits = torch.tensor([[2.0, 0.0, 1.0]])
    assert margins(logits, torch.tensor([0]))[0] == pytest.approx(2.0 - np.log(np.exp(0.0) + np.exp(1.0)))


def test_identical_samples_diverge_by_nothing_and_disjoint_ones_by_a_lot():
    rng = np.random.default_rng(0)
    same = rng.normal(0, 1, 64)
    assert binned_kl(same, same) == pytest.approx(0.0)
    assert binned_kl(rng.normal(0, 1, 64), rng.normal(20, 1, 64)) > 5  # every p bin meets q's floor of 1e-5


def test_the_direction_is_retrained_against_unlearned():
    rng = np.random.default_rng(1)
    retrained, unlearned = rng.normal(0, 1, (32, 1)), rng.normal(0, 3, (32, 1))
    assert klom(unlearned, retrained)[0] == pytest.approx(binned_kl(retrained[:, 0], unlearned[:, 0]))
    assert klom(unlearned, retrained)[0] != pytest.approx(binned_kl(unlearned[:, 0], retrained[:, 0]))


def test_a_value_on_the_top_edge_is_left_out_as_np_digitize_leaves_it():
    # p = [0, 1]: the top edge is 1, so only 0 is counted; q = [0, 0.5] puts both in bins: KL(p || q) = log 2.
    assert binned_kl(np.array([0.0, 1.0]), np.array([0.0, 0.5])) == pytest.approx(np.log(2))


def test_percentiles_are_stored_by_name():
    assert klom_summary(np.arange(101.0), "klom_forget") == {"klom_forget_p50": 50.0, "klom_forget_p95": 95.0}
