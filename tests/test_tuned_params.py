"""Tuned-parameters files: `tune` writes them, `run --params` and suites read them, rows carry `tuned`, and
reports rank tuned rows apart from default ones."""
from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import shutil
from pathlib import Path

import pytest

from helpers import TINY_RECIPE
from unlearnbench.cli.main import main
from unlearnbench.core.errors import UserError
from unlearnbench.execution.params_file import apply_params, read_params_file
from unlearnbench.execution.runner import RunRequest
from unlearnbench.execution.store import open_store
from unlearnbench.execution.suite import load_suite
from unlearnbench.reports.aggregate import aggregate
from unlearnbench.reports.comparison import Side, TunedVsDefault, tuned_vs_default
from unlearnbench.reports.html import render_report
from unlearnbench.reports.leaderboard import leaderboard_csv, leaderboard_markdown, rankings

SETTING = ["--dataset", "tiny", *[f for k, v in TINY_RECIPE.items() for f in ("--recipe", f"{k}={v}")]]
pytestmark = pytest.mark.usefixtures("shrink_method")  # test_shrink (conftest), a tunable method, in most tests here


@pytest.fixture(scope="module")
def shared(tmp_path_factory, shrink_method) -> tuple[Path, Path]:
    """(a params file tuned on tiny for test_shrink and gradient_ascent, 3 trials each; the model cache)."""
    root = tmp_path_factory.mktemp("tuned")
    code = main(["tune", *SETTING, "--methods", "test_shrink,gradient_ascent", "--trials", "3", "--out",
                 str(root / "t"), "--cache-dir", str(root / "cache"), "--quiet"])
    assert code == 0
    return next((root / "t").glob("tuned-*.toml")), root / "cache"


@pytest.fixture
def tuned(shared, tmp_path) -> Path:
    """A copy of the shared params file that a test may edit."""
    copy = tmp_path / "t" / shared[0].name
    copy.parent.mkdir()
    shutil.copy(shared[0], copy)
    return copy


@pytest.fixture
def cli_cached(cli, shared):
    """The CLI with the module's model cache, so runs reuse the models tuning trained."""
    return lambda *args: cli(*args, "--cache-dir", str(shared[1]))


def test_tune_writes_the_file_the_figure_and_a_summary(cli_cached, tmp_path):
    code, out, err = cli_cached("tune", *SETTING, "--methods", "test_shrink", "--trials", "2", "--out",
                                str(tmp_path / "t"), "--quiet")
    assert code == 0, err
    file = read_params_file(next((tmp_path / "t").glob("tuned-tiny-mlp-0-*.toml")))
    entry = file.methods["test_shrink"]
    assert entry["trials"] == 2 and len(entry["history"]) == 2 and entry["seconds"] > 0
    assert file.setting["tune_seed"] == 1000 and file.tuning["budget_trials"] == 2 and file.tuning["optuna"]
    assert next((tmp_path / "t").glob("*.png")).stat().st_size > 0
    assert "2 trials per method" in out and "run --params" in out


@pytest.fixture(scope="module")
def both_ways(shared, tmp_path_factory) -> tuple[Path, str]:
    """A store with a default run (original, retrain, test_shrink) and a run of the shared params file, seed 0;
    and what the params run printed."""
    out = tmp_path_factory.mktemp("both") / "r"
    cache = ["--cache-dir", str(shared[1]), "--out", str(out), "--quiet"]
    assert main(["run", *SETTING, "--methods", "original,retrain,test_shrink", *cache]) == 0
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["run", "--params", str(shared[0]), *SETTING, "--seed", "0", *cache]) == 0
    return out, printed.getvalue()


def test_run_with_params_marks_rows_tuned_and_runs_the_references(shared, both_ways):
    rows = [r for r in open_store(both_ways[0], create=False).rows() if r["run_id"] == _last_run(both_ways[0])]
    by_method = {r["method"]: r for r in rows}
    assert set(by_method) == {"original", "retrain", "retrain_independent", "test_shrink", "gradient_ascent"}
    file = read_params_file(shared[0])
    assert by_method["test_shrink"]["tuned"]["sha"] == file.sha
    assert by_method["test_shrink"]["params"]["scale"] == file.methods["test_shrink"]["params"]["scale"]
    assert by_method["original"]["tuned"] is None and "test_shrink (tuned)" in both_ways[1]


def _last_run(out: Path) -> str:
    return open_store(out, create=False).rows()[-1]["run_id"]


def test_tuned_and_default_rows_are_ranked_apart(both_ways):
    rows = open_store(both_ways[0], create=False).rows()
    settings = aggregate(rows)
    assert [s.tuned for s in settings] == [False, True]
    default, tuned_setting = settings
    assert [m.method for m in default.methods] == ["original", "retrain", "retrain_independent", "test_shrink"]
    assert [m.method for m in tuned_setting.methods] == ["original", "retrain", "retrain_independent",
                                                         "gradient_ascent", "test_shrink"]
    assert "tuned parameters" in tuned_setting.title and "tuned" not in default.title
    table = leaderboard_markdown(rows)
    assert table.count("### ") == 3  # two rankings and their comparison
    comparison, = tuned_vs_default(rankings(rows))
    assert {m for m, _, _ in comparison.lines} == {"gradient_ascent", "test_shrink"}
    assert comparison.compared == ["test_shrink"]  # gradient_ascent ran with tuned parameters only
    assert "### Default against tuned parameters: tiny / mlp, forget {0}" in table and "of 1 methods (paired t-test" in table
    header, *lines = list(csv.reader(io.StringIO(leaderboard_csv(rows))))
    assert header[-2:] == ["tuned", "defaults"]
    assert {(line[4], line[-2]) for line in lines if line[2] == "method"} == {
        ("test_shrink", "False"), ("test_shrink", "True"), ("gradient_ascent", "True")}


def test_the_report_has_a_tuning_section_with_the_objective_figure(both_ways):
    html = render_report(open_store(both_ways[0], create=False).rows())
    assert 'data-tuned="test_shrink"' in html and 'data-figure="tuning"' in html and "best parameters" in html
    assert 'data-compared="test_shrink"' in html and "Tuned gap significantly smaller for" in html


def test_json_results_carry_the_provenance(cli, both_ways):
    code, out, _ = cli("results", "--out", str(both_ways[0]), "--format", "json")
    tuned_rows = [r for r in json.loads(out) if r["tuned"]]
    assert {r["method"] for r in tuned_rows} == {"test_shrink", "gradient_ascent"}
    assert all(len(r["tuned"]["history"]) == 3 for r in tuned_rows)


def test_a_method_counts_as_improved_only_where_the_paired_difference_is_significant_or_its_defaults_failed():
    from unlearnbench.reports.aggregate import mean_ci

    def side(*gaps, failed=False):
        per_seed = dict(enumerate(gaps))
        return Side(mean_ci(gaps) if gaps else None, 1, failed, per_seed)

    c = TunedVsDefault("s", "s, tuned parameters", [
        ("better", side(0.2, 0.21, 0.19), side(0.1, 0.11, 0.09)),  # a consistent drop
        ("noise", side(0.0209, 0.030, 0.012), side(0.0186, 0.010, 0.028)),  # a lower mean inside the noise
        ("worse", side(0.1, 0.1, 0.1), side(0.2, 0.2, 0.2)),
        ("rescued", side(failed=True), side(0.3, 0.3, 0.3)), ("tuned_only", side(), side(0.1, 0.1, 0.1))])
    assert c.compared == ["better", "noise", "worse", "rescued"]
    assert c.improved == ["better", "rescued"]
    assert c.summary.startswith("tuned gap significantly smaller for 2 of 4 methods (paired t-test")


def test_a_suite_takes_a_params_file(tuned, tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(f'params = "{tuned}"\n[grid]\ndatasets = ["tiny"]\nmodels = ["mlp"]\nforget = [[0]]\n'
                     f'[recipe]\n' + "".join(f'{k} = "{v}"\n' for k, v in TINY_RECIPE.items()) +
                     '[methods]\nretrain = {}\ntest_shrink = {}\ngradient_ascent = {}\n')
    request, = load_suite(str(suite)).requests
    assert set(request.tuned) == {"test_shrink", "gradient_ascent"}
    assert dict(request.method_specs())["test_shrink"] == read_params_file(tuned).methods["test_shrink"]["params"]


def _request(**kw) -> RunRequest:
    return RunRequest(**{"dataset": "tiny", "methods": ("test_shrink", "gradient_ascent"), "recipe": dict(TINY_RECIPE),
                         **kw})


def test_a_method_of_the_file_left_out_of_the_run_is_refused(tuned):
    with pytest.raises(UserError, match="leaves out"):
        apply_params(read_params_file(tuned), _request(methods=("test_shrink",)), explicit_methods=True)


def test_a_field_tuned_and_set_is_refused(tuned):
    with pytest.raises(UserError, match="tuned in .* and also given"):
        apply_params(read_params_file(tuned), _request(params={"test_shrink": {"scale": "1"}}), True)


def test_an_unknown_field_in_the_file_is_refused(tuned):
    tuned.write_text(tuned.read_text().replace("params = {scale", "params = {bogus"))
    with pytest.raises(UserError, match="has no parameter bogus"):
        apply_params(read_params_file(tuned), _request(), True)


def test_an_unknown_method_in_the_file_is_refused(tuned):
    tuned.write_text(tuned.read_text().replace("[methods.test_shrink]", "[methods.nosuch]"))
    with pytest.raises(UserError, match="Unknown method 'nosuch'"):
        apply_params(read_params_file(tuned), _request(), True)


def test_a_file_of_another_setting_warns_and_says_what_differs(tuned):
    _, warnings = apply_params(read_params_file(tuned), _request(forget="1"), True)
    assert len(warnings) == 1 and "forget '0' there, '1' here" in warnings[0]


def test_running_the_tuning_seed_warns(tuned):
    _, warnings = apply_params(read_params_file(tuned), _request(seed=1000), True)
    assert any("tuned on; report other seeds" in w for w in warnings)


def test_running_any_of_several_tuning_seeds_warns(tuned, tmp_path):
    multi = tmp_path / "multi.toml"
    text = tuned.read_text().replace("tune_seed = 1000", "tune_seed = 1000\ntune_seeds = [1000, 1001, 1002]", 1)
    multi.write_text(text)
    _, warnings = apply_params(read_params_file(multi), _request(seed=1002), True)
    assert any("tuned on; report other seeds" in w for w in warnings)
    assert "tune seeds 1000, 1001, 1002" in read_params_file(multi).describe()


def test_a_tuned_cell_is_another_cell_than_the_default_one(tuned):
    from unlearnbench.core.method import METHODS
    from unlearnbench.execution.runner import cell_key

    request, _ = apply_params(read_params_file(tuned), _request(), True)
    method = METHODS.get("test_shrink").from_params(dict(request.method_specs())["test_shrink"])
    assert cell_key(request, method) != cell_key(_request(), method)


@pytest.mark.parametrize("args, message", [
    (["--trials", "0"], "--trials 0 must be at least 1"),
    (["--methods", "test_shrink", "--tune-seeds", "0"], "--tune-seeds 0 must be at least 1"),
    (["--methods", "nosuch"], "Unknown method 'nosuch'"),
    (["--methods", "test_shrink", "--space", "test_shrink.scale=5:1"], "empty or inverted"),
    (["--methods", "test_shrink", "--trials", "1", "--budget-s", "5"], "not allowed with argument"),
])
def test_bad_tune_input_is_one_line_before_any_work(cli, tmp_path, args, message):
    code, out, err = cli("tune", *SETTING, *args, "--out", str(tmp_path / "t"), "--cache-dir", str(tmp_path / "c"))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()  # nothing was trained


def test_a_params_file_that_is_not_one_is_a_one_line_error(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[grid]\n")
    code, _, err = cli("run", "--params", str(bad), *SETTING, "--out", str(tmp_path / "r"))
    assert code == 2 and "not a tuned-parameters file" in err and len(err.strip().splitlines()) == 1


def test_a_file_of_another_setting_is_never_overwritten(cli, tuned, tmp_path):
    before = tuned.read_text()
    text = before.replace("tune_seed = 1000", "tune_seed = 7")
    tuned.write_text(text)
    code, _, err = cli("tune", *SETTING, "--methods", "test_shrink", "--trials", "1", "--out", str(tuned.parent),
                       "--cache-dir", str(tmp_path / "cache"), "--quiet")
    assert not (tmp_path / "cache").exists()  # refused before any work
    assert code == 2 and "another setting" in err and tuned.read_text() == text
    assert not math.isnan(read_params_file(tuned).methods["test_shrink"]["objective"])


@pytest.fixture
def edge_tuned(cli_cached, tmp_path) -> tuple[Path, str]:
    """test_shrink tuned by its one default trial (scale 0.5) in a space whose top is 0.5; the file and the summary."""
    code, out, err = cli_cached("tune", *SETTING, "--methods", "test_shrink", "--space", "test_shrink.scale=0.1:0.5",
                                "--trials", "1", "--out", str(tmp_path / "t"), "--quiet")
    assert code == 0, err
    return next((tmp_path / "t").glob("tuned-*.toml")), out


def test_the_summary_and_the_file_say_when_the_best_value_sits_on_the_edge_of_its_space(edge_tuned):
    path, out = edge_tuned
    assert read_params_file(path).methods["test_shrink"]["at_edge"] == {"scale": "high"}
    assert "at the edge of its space: scale=0.5 (top of 0.1..0.5); better values may lie outside" in out


def test_the_report_marks_tuned_values_on_the_edge_of_their_space(cli_cached, edge_tuned, tmp_path):
    code, _, err = cli_cached("run", "--params", str(edge_tuned[0]), *SETTING, "--out", str(tmp_path / "r"),
                              "--quiet")
    assert code == 0, err
    html = render_report(open_store(tmp_path / "r", create=False).rows())
    assert 'data-edge="test_shrink">(at the edge of its space: scale)' in html
