"""Unlearned models kept beside the store: saved checksummed, loaded back, and rescored without running a method."""
from __future__ import annotations

import pytest
import torch

import unlearnbench
from helpers import TINY_RECIPE, registered_metric
from unlearnbench.core.errors import UserError
from unlearnbench.execution.rescore import rescore
from unlearnbench.execution.store import open_store
from unlearnbench.metrics.base import MetricValue
from unlearnbench.models.inference import accuracy


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    results = unlearnbench.run(dataset="tiny", methods=["original", "retrain", "finetune"], out=out, device="cpu",
                               cache_dir=out / "cache", recipe=dict(TINY_RECIPE), params={"finetune": {"epochs": "1"}},
                               save_models=True)
    return results, out


def _rows(out):
    store = open_store(out, create=False)
    try:
        return store.rows()
    finally:
        store.close()


def _stored(out):
    return {r["id"]: r["metrics"] for r in _rows(out)}


def test_every_unlearned_model_is_saved_and_loads_back_with_its_weights(saved):
    results, out = saved
    assert len(list((out / "models").glob("*.pt"))) == 3
    model = results.model("finetune", seed=0)
    assert isinstance(model, torch.nn.Module) and torch.isfinite(model(torch.zeros(2, 1, 8, 8))).all()


def test_rescoring_reproduces_the_stored_metrics_exactly(saved):
    _, out = saved
    before = _stored(out)
    assert rescore(out, cache_dir=out / "cache") == 3
    assert _stored(out) == before


def test_rescoring_adds_a_newly_registered_metric_without_running_a_method(saved, monkeypatch):
    _, out = saved
    late = MetricValue("late_score", "late score", "a metric registered after the run", better="closer_to_retrain",
                       group="privacy", tier="primary", unit="rate")

    def score(inputs):
        return {"late_score": accuracy(inputs.outputs.logits("forget_train"), inputs.outputs.labels("forget_train"))}

    from unlearnbench.methods.finetune import Finetune
    monkeypatch.setattr(Finetune, "unlearn", lambda *a: pytest.fail("rescore ran a method"))
    with registered_metric("late_score", score, late):
        rescore(out, cache_dir=out / "cache")
    # Known answers on the tiny separable classes: the original and the briefly fine-tuned model classify every
    # class-0 train row, the retrained model, which never saw class 0, none.
    assert {r["method"]: r["metrics"]["late_score"] for r in _rows(out)} == {"original": 1.0, "retrain": 0.0,
                                                                               "finetune": 1.0}


def test_a_damaged_model_file_is_a_one_line_error(saved, tmp_path):
    _, out = saved
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(next((out / "models").glob("*.pt")).read_bytes()[:200])
    for path, message in ((damaged, "is not a readable unlearnbench model file"), (tmp_path / "none.pt",
                                                                                     "no saved model at")):
        with pytest.raises(UserError, match=message) as caught:
            unlearnbench.load_model(path)
        assert "\n" not in str(caught.value)


def test_changed_weights_fail_the_checksum(saved, tmp_path):
    _, out = saved
    payload = torch.load(next((out / "models").glob("*.pt")), weights_only=True)
    next(iter(payload["state_dict"].values())).add_(1.0)
    torch.save(payload, tmp_path / "edited.pt")
    with pytest.raises(UserError, match="fails its checksum"):
        unlearnbench.load_model(tmp_path / "edited.pt")


def test_rescoring_a_store_without_saved_models_is_a_one_line_error(tmp_path):
    unlearnbench.run(dataset="tiny", methods=["original"], out=tmp_path / "out", device="cpu",
                     cache_dir=tmp_path / "cache", recipe=dict(TINY_RECIPE))
    with pytest.raises(UserError, match="no saved models in .*: run with --save-models"):
        rescore(tmp_path / "out")


def test_an_unwritable_models_folder_is_refused_before_anything_runs(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "models").write_text("a file where the folder should be")
    with pytest.raises(UserError, match="cannot save unlearned models in"):
        unlearnbench.run(dataset="tiny", methods=["original"], out=tmp_path / "out", device="cpu",
                         cache_dir=tmp_path / "cache", recipe=dict(TINY_RECIPE), save_models=True)
    assert not (tmp_path / "out" / "results.db").exists()


def test_the_command_line_saves_and_rescores(cli, tmp_path):
    common = ["--dataset", "tiny", "--device", "cpu", "--recipe", "epochs=3", "--quiet", "--out", str(tmp_path / "o")]
    assert cli("run", *common, "--methods", "original,finetune", "--set", "finetune.epochs=1", "--save-models")[0] == 0
    code, out, _ = cli("rescore", "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "cache"), "--quiet")
    assert code == 0 and "rescored 2 rows from their saved models" in out


def test_a_rerun_that_saves_over_a_cell_rescores_only_the_newest_row(tmp_path):
    # Regression: the same cell run again after its method changed (same name and config, other weights) saved over
    # the first run's file, and rescore then failed the first row's checksum.
    factor = {"value": 0.5}

    @unlearnbench.method(name="rescaled_head", access={"forget"}, scenarios={"class"})
    def rescale(model, ctx):
        """Scales the last layer's weights by the current factor."""
        model[-1].weight.data *= factor["value"]
        return model

    try:
        run = dict(dataset="tiny", methods=["original", "retrain", rescale], out=tmp_path / "out", device="cpu",
                   cache_dir=tmp_path / "cache", recipe=dict(TINY_RECIPE), save_models=True)
        unlearnbench.run(**run)
        factor["value"] = 0.25
        second = unlearnbench.run(**run)
        # The second run's three saved models, not the first run's; from the runs' cache, so that the speedup
        # divides by the same retrained model's seconds.
        assert rescore(tmp_path / "out", cache_dir=tmp_path / "cache") == 3
        newest = {r["id"]: r["metrics"] for r in _rows(tmp_path / "out")}
        assert all(newest[row["id"]] == row["metrics"] for row in second.rows if row["method"] == "rescaled_head")
    finally:
        unlearnbench.core.method.METHODS.remove("rescaled_head")


def test_rescoring_without_a_cache_folder_uses_the_one_the_run_used(saved, monkeypatch, tmp_path):
    # Regression: rescore took the default cache, so a run made with --cache-dir was rescored against models
    # trained anew elsewhere, and its speedup divided by their retraining seconds.
    _, out = saved
    before = _stored(out)
    monkeypatch.setenv("UNLEARNBENCH_CACHE", str(tmp_path / "elsewhere"))
    assert rescore(out) == 3
    assert _stored(out) == before and not (tmp_path / "elsewhere").exists()
