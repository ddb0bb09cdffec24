"""Every command's work is a Python call: results, formats, tune, bench and sweep through unlearnbench.api."""
from __future__ import annotations

import csv
import io
import json

import pytest

import unlearnbench
from helpers import TINY_RECIPE
from unlearnbench import api
from unlearnbench.core.errors import UserError


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A store holding one tiny run of three methods."""
    folder = tmp_path_factory.mktemp("api")
    unlearnbench.run(dataset="tiny", methods=["original", "retrain", "finetune"], out=folder / "out", device="cpu",
                     cache_dir=folder / "cache", recipe=dict(TINY_RECIPE))
    return folder


def test_results_reads_back_every_stored_row(stored):
    assert [r["method"] for r in api.results(stored / "out").rows] == ["original", "retrain", "finetune"]


def test_results_of_a_folder_without_a_store_is_a_one_line_error(tmp_path):
    with pytest.raises(UserError, match="no results"):
        api.results(tmp_path)


def test_rows_render_as_json_and_csv_with_one_record_per_row(stored):
    results = api.results(stored / "out")
    assert [r["method"] for r in json.loads(results.table(format="json"))] == ["original", "retrain", "finetune"]
    assert [r["method"] for r in csv.DictReader(io.StringIO(results.table(format="csv")))] == [
        "original", "retrain", "finetune"]


def test_an_unknown_format_names_the_choices(stored):
    with pytest.raises(UserError, match="choose one of csv, json, table"):
        api.results(stored / "out").table(format="xml")
    with pytest.raises(UserError, match="choose one of csv, html, md"):
        api.results(stored / "out").leaderboard(format="pdf")


def test_the_leaderboard_ranks_the_method_against_the_retrained_model(stored):
    text = api.results(stored / "out").leaderboard(format="csv")
    assert {r["method"] for r in csv.DictReader(io.StringIO(text))} >= {"original", "finetune"}


def test_tune_writes_the_tuned_parameters_file_and_its_figure(stored):
    request = api.request(dataset="tiny", methods=["finetune"], seed=1000, device="cpu",
                          cache_dir=stored / "cache", recipe=dict(TINY_RECIPE))
    outcome = api.tune(request, stored / "tuned", trials=2)
    assert outcome.path.exists() and outcome.figure.exists()
    assert [s.method for s in outcome.studies] == ["finetune"] and outcome.studies[0].trials == 2


def test_bench_times_each_method_beside_its_plain_loop(stored):
    request = api.request(dataset="tiny", methods=["finetune"], device="cpu", cache_dir=stored / "cache",
                          recipe=dict(TINY_RECIPE))
    rows = {r.name: r for r in api.bench(request, repeat=1).rows}
    assert rows["finetune"].seconds > 0 and rows["finetune"].plain_seconds > 0


def test_bench_refuses_zero_repeats():
    with pytest.raises(UserError, match="repeat=0 must be at least 1"):
        api.bench(api.request(dataset="tiny"), repeat=0)


def test_an_unknown_request_option_is_named():
    with pytest.raises(UserError, match="unknown option 'devise'"):
        api.request(dataset="tiny", devise="cpu")


def test_registered_lists_every_model_family_with_its_description():
    models = dict(api.registered("models"))
    assert set(models) >= {"mlp", "cnn", "resnet18", "allcnn"} and models["mlp"].startswith("Two hidden ReLU layers")


def test_registered_refuses_an_unknown_kind():
    with pytest.raises(UserError, match="choose methods, datasets or models"):
        api.registered("metrics")
