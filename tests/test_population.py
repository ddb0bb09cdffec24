"""Populations for the challenge's forgetting quality: members with their own streams, cached, scored, kept raw."""
from __future__ import annotations

import json

import numpy as np
import pytest
from torch import nn

from helpers import TINY_RECIPE
from unlearnbench.core.errors import DivergedError, UserError
from unlearnbench.core.method import METHODS, Method
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.execution.population import check_population, run_population
from unlearnbench.execution.runner import RunRequest
from unlearnbench.reports.population import population_text


def _request(cache_dir, methods, forget="random:0.1") -> RunRequest:
    return RunRequest(dataset="tiny", methods=methods, forget=forget, device="cpu", cache_dir=cache_dir,
                      recipe=dict(TINY_RECIPE))


@pytest.mark.parametrize("size,protocol,message", [
    (1, "challenge", "--population 1: a population needs at least 3 models"),
    (8, "bootstrap", "--protocol 'bootstrap': choose challenge"),
])
def test_bad_population_options_are_one_line_errors(size, protocol, message):
    with pytest.raises(UserError, match=message) as caught:
        check_population(size, protocol)
    assert "\n" not in str(caught.value)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    cache, out = tmp_path_factory.mktemp("cache"), tmp_path_factory.mktemp("out")
    results, ceiling, ceiling_klom, folder = run_population(_request(cache, ("original", "finetune")), 4,
                                                            "challenge", out)
    return {r.method: r for r in results}, (ceiling, ceiling_klom, folder), out, cache


def test_a_deterministic_method_under_the_challenge_protocol_is_flagged(scored):
    results, (_, _, folder), _, _ = scored
    assert results["original"].deterministic and not results["finetune"].deterministic
    assert "original: deterministic under the challenge protocol" in population_text(folder)


def test_the_original_scores_below_the_ceiling(scored):
    results, (ceiling, _, _), _, _ = scored
    assert results["original"].forget_quality < ceiling.forget_quality


def test_klom_percentiles_are_kept_per_part_and_the_original_is_further_than_the_ceiling(scored):
    results, (_, ceiling_klom, _), _, _ = scored
    assert set(results["finetune"].klom) == {f"klom_{part}_p{p}" for part in ("forget", "retain", "val")
                                             for p in (50, 95)}
    assert results["original"].klom["klom_forget_p50"] > ceiling_klom["klom_forget_p50"]


def test_raw_statistics_are_kept_per_method_with_both_populations(scored):
    _, _, out, _ = scored
    folder = next((out / "population").iterdir())
    raw = np.load(folder / "finetune.npz")
    assert raw["unlearned"].shape == raw["retrained"].shape == raw["retrained_independent"].shape
    assert raw["unlearned"].shape == raw["unlearned_margins_forget"].shape == (4, len(raw["forget_rows"]))
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["size"] == 4 and [m["method"] for m in summary["methods"]] == ["original", "finetune"]


def test_a_rerun_trains_no_member_again(scored, tmp_path):
    _, _, _, cache = scored
    before = sorted(p.name for p in cache.iterdir())
    run_population(_request(cache, ("original",)), 4, "challenge", tmp_path)
    assert sorted(p.name for p in cache.iterdir()) == before


class _FailsOnSomeMembers(Method):
    """Diverges for every other member (its rng's first draw decides), else returns the model as it is."""

    scenarios = frozenset({"random"})

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        if ctx.rng.initial_seed() % 2:
            raise DivergedError("diverged: on purpose")
        return model


@pytest.fixture
def failing_method():
    METHODS.add("fails_sometimes", _FailsOnSomeMembers)
    yield "fails_sometimes"
    METHODS.remove("fails_sometimes")


def test_failed_members_are_counted_shown_and_left_out(scored, failing_method, tmp_path):
    _, _, _, cache = scored
    (result,), _, _, folder = run_population(_request(cache, (failing_method,)), 4, "challenge", tmp_path)
    assert 0 < len(result.failures) < 4 and result.ok == 4 - len(result.failures)
    assert "member(s) failed and are left out" in population_text(folder)


def test_the_seeds_protocol_unlearns_a_different_original_per_member(scored, tmp_path):
    _, _, _, cache = scored
    (result,), _, _, _ = run_population(_request(cache, ("original",)), 3, "seeds", tmp_path)
    raw = np.load(next((tmp_path / "population").iterdir()) / "original.npz")
    assert not result.deterministic and not np.array_equal(raw["unlearned"][0], raw["unlearned"][1])


def test_the_leaderboard_of_a_population_only_folder_shows_the_population_in_every_format(scored):
    import csv
    import io

    from unlearnbench.api import results as stored

    results, _, out, _ = scored
    board = stored(out)
    markdown, html = board.leaderboard(format="md"), board.leaderboard(format="html")
    records = list(csv.DictReader(io.StringIO(board.leaderboard(format="csv"))))
    assert "### Population: tiny / mlp, forget random:0.1" in markdown
    assert "| - | retrain_independent (ceiling) |" in markdown
    assert "Population: tiny / mlp" in html and "No results are stored yet" not in html
    by_method = {r["method"]: r for r in records}
    assert by_method["retrain_independent (ceiling)"]["role"] == "ceiling"
    assert float(by_method["finetune"]["forget_quality"]) == pytest.approx(results["finetune"].forget_quality)
    assert by_method["finetune"]["defaults"] == "paper"  # tiny data has no shipped values


def test_a_store_without_populations_has_no_population_columns(tmp_path):
    from unlearnbench.reports.leaderboard import leaderboard_csv, leaderboard_markdown

    assert "forget_quality" not in leaderboard_csv([], populations=tmp_path)
    assert leaderboard_markdown([], populations=tmp_path) == "(no results stored)"


def test_the_population_report_ranks_by_final_score_and_draws_the_epsilon_histogram(scored):
    from unlearnbench.reports.population import render_population_report

    results, _, out, _ = scored
    html = render_population_report(out / "population")
    assert "retrain_independent (ceiling)" in html and "<svg" in html and "finetune" in html
    assert all(r.rank >= 1 for r in results.values())
    assert "original: deterministic under the challenge protocol" in html


def test_a_population_the_cache_disk_cannot_hold_is_refused_before_training(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**6, 10**6 - 1000, 1000))
    with pytest.raises(UserError, match="--population 64: its 128 member models need about") as caught:
        run_population(_request(tmp_path / "cache", ("original",)), 64, "challenge", tmp_path / "out")
    assert "\n" not in str(caught.value) and not list((tmp_path / "cache").glob("*.pt"))


def test_the_command_line_runs_a_population_and_writes_its_report(cli, tmp_path):
    code, out, _ = cli("run", "--dataset", "tiny", "--device", "cpu", "--recipe", "epochs=3", "--forget",
                       "random:0.1", "--methods", "original,finetune", "--population", "3", "--quiet",
                       "--out", str(tmp_path / "out"))
    assert code == 0 and "retrain_independent (ceiling)" in out
    assert (tmp_path / "out" / "population" / "report.html").exists()


def test_a_one_model_population_is_a_one_line_error_on_the_command_line(cli, tmp_path):
    code, _, err = cli("run", "--dataset", "tiny", "--population", "1", "--out", str(tmp_path / "out"))
    assert code == 2 and "--population 1: a population needs at least 3 models" in err and err.count("\n") == 1


@pytest.mark.slow  # spawns two workers (about 20 s)
def test_members_spread_over_worker_processes_score_as_members_run_here(tmp_path):
    request = RunRequest(dataset="digits", methods=("finetune",), forget="random:0.1", device="cpu",
                         cache_dir=tmp_path / "cache", recipe={"epochs": "2"}, params={"finetune": {"epochs": "1"}})
    (here,), _, _, _ = run_population(request, 3, "challenge", tmp_path / "here")
    (pooled,), _, _, _ = run_population(request, 3, "challenge", tmp_path / "pooled", workers=2)
    raw = [np.load(next((tmp_path / d / "population").iterdir()) / "finetune.npz") for d in ("here", "pooled")]
    # Workers run one torch thread each, the driver two: products may round differently in the last bits.
    assert np.allclose(raw[0]["unlearned"], raw[1]["unlearned"], atol=1e-4)
    assert np.array_equal(raw[0]["epsilons"], raw[1]["epsilons"]) and here.forget_quality == pooled.forget_quality
