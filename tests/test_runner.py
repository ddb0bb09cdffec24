"""The runner: a failing or diverging method becomes a failed row, the other cells still run."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from helpers import TINY_RECIPE, registered_methods
from unlearnbench.core.method import Method
from unlearnbench.execution.runner import RunRequest, run
from unlearnbench.execution.store import open_store


class Boom(Method):
    """Raises inside unlearn."""
    scenarios = frozenset({"class"})

    def unlearn(self, model: nn.Module, ctx) -> nn.Module:
        raise RuntimeError("boom")


class NaNWeights(Method):
    """Returns a model whose weights are NaN (what an exploding ascent leaves behind)."""
    scenarios = frozenset({"class"})

    def unlearn(self, model: nn.Module, ctx) -> nn.Module:
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(float("nan"))
        return model


class Peek(Method):
    """Declares nothing, then asks for the forget samples."""
    scenarios = frozenset({"class"})

    def unlearn(self, model: nn.Module, ctx) -> nn.Module:
        ctx.forget()
        return model


class Phased(Method):
    """Two phases and a checkpoint between them."""
    scenarios = frozenset({"class"})

    access = frozenset({"retain"})

    def unlearn(self, model: nn.Module, ctx) -> nn.Module:
        with ctx.phase("first"):
            ctx.retain()
        ctx.checkpoint("mid", model)
        with ctx.phase("second"):
            pass
        return model


@pytest.fixture(scope="module", autouse=True)
def runner_methods():
    """The methods above, registered for this module's tests and removed after them."""
    with registered_methods(test_boom=Boom, test_nan=NaNWeights, test_peek=Peek, test_phased=Phased):
        yield


def _run(tmp_path, *methods, device="cpu"):
    request = RunRequest(dataset="tiny", methods=methods, device=device, cache_dir=tmp_path / "cache",
                         recipe=TINY_RECIPE)
    store = open_store(tmp_path / "out")
    return run(request, store), store


def test_failing_method_is_stored_failed_and_others_still_run(tmp_path):
    rows, store = _run(tmp_path, "test_boom", "original")
    assert [r["status"] for r in store.rows()] == ["failed", "ok"]
    assert rows[0]["error"].startswith("RuntimeError: boom (test_runner.py:")


def test_non_finite_model_is_failed_as_diverged_never_scored(tmp_path):
    rows, _ = _run(tmp_path, "test_nan")
    assert rows[0]["status"] == "failed" and rows[0]["error"].startswith("diverged")
    assert rows[0]["metrics"] == {}


def test_undeclared_data_access_fails_the_cell_with_the_reason(tmp_path):
    rows, _ = _run(tmp_path, "test_peek")
    assert rows[0]["status"] == "failed" and "asked for 'forget' data but declared only: nothing" in rows[0]["error"]


def test_original_row_has_every_accuracy_and_provenance(tmp_path, device):
    (row,), _ = _run(tmp_path, "original", device=device)
    names = {"acc_forget_train", "acc_retain_train", "acc_forget_test", "acc_retain_test", "acc_test"}
    # The tiny classes are separable and the original trained on all of them: it classifies every split.
    assert names <= set(row["metrics"]) and all(row["metrics"][n] > 0.9 for n in names)
    assert row["env"]["torch"] == torch.__version__ and torch.device(row["env"]["device"]).type == device
    assert row["time_s"] >= 0 and row["peak_mem_bytes"] > 0 and row["recipe"]["epochs"] == 4


def test_phases_and_checkpoint_metrics_are_recorded(tmp_path):
    (row,), _ = _run(tmp_path, "test_phased")
    assert set(row["phases"]) == {"first", "second"}
    assert not math.isnan(row["metrics"]["acc_retain_test@mid"])


def test_second_run_reuses_the_cached_original(tmp_path):
    _run(tmp_path, "original")
    files = sorted((tmp_path / "cache").iterdir())
    mtimes = [f.stat().st_mtime_ns for f in files]
    _run(tmp_path, "original")
    assert [f.stat().st_mtime_ns for f in sorted((tmp_path / "cache").iterdir())] == mtimes


def test_every_cell_stores_privacy_fidelity_and_summary_metrics(tmp_path, device):
    rows, _ = _run(tmp_path, "original", "retrain", device=device)
    names = {"mia_entropy", "mia_svc", "mia_loss", "mia_entropy_auc", "mia_svc_auc", "mia_loss_auc",
             "js_to_retrain", "act_dist_to_retrain", "weight_dist_to_retrain", "speedup_vs_retrain",
             "mia_entropy_signal", "mia_svc_signal", "mia_loss_signal"}
    assert all(names <= set(r["metrics"]) for r in rows)
    assert not any("retrain_gap" in r["metrics"] for r in rows)  # gaps are computed when rendered, never stored


def test_train_subset_trains_on_a_fixed_subset(tmp_path):
    request = RunRequest(dataset="tiny", methods=("original",), device="cpu", cache_dir=tmp_path / "cache",
                         recipe={**TINY_RECIPE, "train_subset": "100"})
    (row,) = run(request, open_store(tmp_path / "out"))
    assert row["recipe"]["train_subset"] == 100 and row["status"] == "ok"
