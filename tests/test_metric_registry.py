"""The metric registry is the single source: a value declared in one place is computed, gapped and shown everywhere;
reference rows get their treatment from a declared role."""
from __future__ import annotations

import pytest
import torch.nn as nn

from helpers import TINY_RECIPE, registered_methods, registered_metric, stored_row
from unlearnbench.core.method import Method
from unlearnbench.execution.runner import RunRequest, run
from unlearnbench.execution.store import open_store
from unlearnbench.metrics import MetricValue
from unlearnbench.models.inference import accuracy
from unlearnbench.reports.aggregate import aggregate
from unlearnbench.reports.figures import mia_bars
from unlearnbench.reports.html import render_report
from unlearnbench.reports.latex import latex_tables
from unlearnbench.reports.leaderboard import leaderboard_csv
from unlearnbench.reports.ranking import rank_setting
from unlearnbench.reports.table import format_table

EXTRA = MetricValue("test_score", "test score", "a value a test declares", better="closer_to_retrain",
                    group="privacy", tier="primary", unit="rate")


@pytest.fixture
def extra_metric():
    """Registers one more metric (forget-train accuracy under another name) for the length of a test."""

    def score(inputs):
        return {"test_score": accuracy(inputs.outputs.logits("forget_train"), inputs.outputs.labels("forget_train"))}

    with registered_metric("test_score", score, EXTRA):
        yield


@pytest.fixture
def rows(extra_metric, tmp_path):
    request = RunRequest(dataset="tiny", methods=("original", "retrain", "finetune"), device="cpu",
                         cache_dir=tmp_path / "cache", recipe=TINY_RECIPE, params={"finetune": {"epochs": "1"}})
    return run(request, open_store(tmp_path / "out"))


def test_a_declared_metric_is_computed_for_every_row(rows):
    # Known answers on the tiny separable classes: the original and the briefly fine-tuned model classify every
    # class-0 train row, the retrained model, which never saw class 0, none.
    assert {r["method"]: r["metrics"]["test_score"] for r in rows} == {"original": 1.0, "retrain": 0.0,
                                                                         "finetune": 1.0}


def test_a_declared_metric_appears_in_every_rendering(rows):
    assert "test score" in format_table(rows)
    assert 'data-metric="test_score">test score' in render_report(rows)
    assert "test score" in latex_tables(rows)
    assert "test_score,test_score_lo,test_score_hi" in leaderboard_csv(rows)
    (setting,) = aggregate(rows)
    assert "test score" in [ax.get_title() for ax in mia_bars(setting).axes]  # a panel of its own


def test_a_value_with_an_unknown_direction_is_refused():
    with pytest.raises(ValueError, match="better must be one of higher, lower, closer_to_retrain"):
        MetricValue("x", "x", "x", better="bigger", group="privacy")


class Oracle(Method):
    """A reference row under a name of its own."""

    scenarios = frozenset({"class"})
    role = "reference"

    def unlearn(self, model: nn.Module, ctx) -> nn.Module:
        return model


def test_reference_rows_come_from_the_declared_role_not_the_name():
    with registered_methods(test_oracle=Oracle):
        (setting,) = aggregate([stored_row("unsir", 0, 0.1), stored_row("test_oracle", 0, 0.0)])
        ranking = rank_setting(setting)
    assert setting.reference.label == "test_oracle" and setting.methods[0].label == "test_oracle"
    assert [r.result.label for r in ranking.ranked] == ["unsir"] and ranking.references == [setting.reference]


def test_a_method_no_longer_registered_is_ranked_as_a_method():
    (setting,) = aggregate([stored_row("retrain", 0, 0.0), stored_row("gone_plugin", 0, 0.1)])
    gone = next(m for m in setting.methods if m.label == "gone_plugin")
    assert gone.role == "method" and not gone.is_reference
    assert gone.metrics["retrain_gap"].mean == pytest.approx(0.1)  # each gap member of its row lies 0.1 from retrain's
