"""Equal-budget tuning: the validation objective, search spaces, budgets, diverged trials and resuming a study."""
from __future__ import annotations

import math

import optuna
import pytest
import torch

from helpers import TINY_RECIPE
from unlearnbench.core.errors import ConfigError, UserError
from unlearnbench.core.method import METHODS
from unlearnbench.core.space import (Choice, EpochShare, Range, at_edge, check_space, parse_dimension, parse_spaces,
                                     resolve)
from unlearnbench.execution.evaluate import val_objective, val_reference
from unlearnbench.execution.params_file import read_params_file
from unlearnbench.execution.runner import RunRequest, prepare_setting
from unlearnbench.methods.salun import SalUn
from unlearnbench.tuning.tune import (STUDIES, Budget, plan_methods, run_study, sampler_seed, tunable_methods, tune,
                                      tuning_settings)


pytestmark = pytest.mark.usefixtures("shrink_method")  # test_shrink (conftest) is tuned in most tests here

CACHE = None  # the module's model cache (set by shared_cache)


@pytest.fixture(scope="module", autouse=True)
def shared_cache(tmp_path_factory):
    """One model cache for the module: every study here tunes on the same tiny setting."""
    global CACHE
    CACHE = tmp_path_factory.mktemp("cache")


def _request(tmp_path, methods=("test_shrink",), **kw) -> RunRequest:
    return RunRequest(dataset="tiny", methods=methods, seed=1000, device="cpu", cache_dir=CACHE, recipe=TINY_RECIPE,
                      **kw)


def test_the_original_scores_far_from_the_retrained_model(tmp_path):
    setting = prepare_setting(_request(tmp_path))
    reference = val_reference(setting)
    gap, parts = val_objective(setting.trained("original").model, setting, reference)
    assert gap > 0.2 and parts["forget val"] > 0.5  # the original still knows class 0's validation samples


def test_the_objective_never_reads_test_data(tmp_path):
    setting = prepare_setting(_request(tmp_path))
    reference = val_reference(setting)
    before = val_objective(setting.trained("original").model, setting, reference)
    setting.data = type(setting.data)(**{**vars(setting.data), "x_test": torch.full_like(setting.data.x_test, math.nan),
                                         "y_test": torch.zeros_like(setting.data.y_test)})
    assert val_objective(setting.trained("original").model, setting, val_reference(setting)) == before


def test_random_forgetting_uses_the_whole_validation_split(tmp_path):
    setting = prepare_setting(_request(tmp_path, forget="random:0.1"))
    _, parts = val_objective(setting.trained("original").model, setting, val_reference(setting))
    assert "val" in parts and "forget val" not in parts and "retain val" not in parts


def test_every_method_gets_the_same_number_of_counted_trials(tmp_path):
    results = tune(_request(tmp_path, methods=("test_shrink", "gradient_ascent")), {}, Budget(trials=3), tmp_path)
    assert [r.trials for r in results] == [3, 3]
    assert all(len(r.history) == 3 and r.seconds > 0 for r in results)


def test_diverged_trials_are_pruned_and_counted(tmp_path):
    spaces = {"test_shrink": {"scale": Range(8.5, 9.5)}}  # always diverges
    result, = tune(_request(tmp_path), spaces, Budget(trials=2), tmp_path)
    assert (result.trials, result.pruned, result.failed) == (2, 2, 0)
    assert math.isnan(result.objective) and "diverged" in result.reasons[0]


def test_the_best_trial_is_the_lowest_objective(tmp_path):
    result, = tune(_request(tmp_path), {}, Budget(trials=5), tmp_path)
    assert result.objective == min(v for v in result.history if math.isfinite(v))
    assert set(result.params) == {"scale"}


def test_a_seconds_budget_stops_after_the_trial_that_spends_it(tmp_path):
    result, = tune(_request(tmp_path), {}, Budget(trials=None, seconds=1e-6), tmp_path)
    assert result.trials == 1


def test_the_defaults_inside_the_space_are_the_first_trial(tmp_path):
    result, = tune(_request(tmp_path), {}, Budget(trials=2), tmp_path)
    study = optuna.load_study(study_name=None, storage=f"sqlite:///{tmp_path / STUDIES / 'test_shrink.db'}")
    assert study.trials[0].params == {"scale": 0.5}


def _study_histories(tmp_path, name):
    return tune(_request(tmp_path / name), {}, Budget(trials=6), tmp_path / name)[0].history


def test_an_interrupted_study_resumes_with_no_trial_lost_or_repeated(tmp_path):
    uninterrupted = _study_histories(tmp_path, "whole")
    request = _request(tmp_path / "cut")
    folder = tmp_path / "cut" / STUDIES
    tune(request, {}, Budget(trials=2), tmp_path / "cut")
    plan, = plan_methods(request, {})
    study = optuna.load_study(study_name=plan.identity(request), storage=f"sqlite:///{folder / 'test_shrink.db'}")
    study.sampler = optuna.samplers.TPESampler(seed=sampler_seed(request.seed, 2))  # as the killed process drew it
    study.ask({"scale": optuna.distributions.FloatDistribution(0.1, 10.0)})  # the trial a killed process left RUNNING
    resumed = run_study(plan, tuning_settings(request, 1), request, Budget(trials=6), folder)
    assert resumed.trials == 6 and resumed.history == uninterrupted
    states = [t.state.name for t in optuna.load_study(study_name=plan.identity(request),
                                                      storage=f"sqlite:///{folder / 'test_shrink.db'}").trials]
    assert states.count("FAIL") == 1 and len(states) == 7  # the interrupted one is run again, not counted


def test_a_larger_budget_extends_the_same_study(tmp_path):
    tune(_request(tmp_path), {}, Budget(trials=2), tmp_path)
    result, = tune(_request(tmp_path), {}, Budget(trials=4), tmp_path)
    assert result.trials == 4 and result.history[:2] == tune(_request(tmp_path), {}, Budget(trials=2), tmp_path)[
        0].history[:2]


def test_a_trial_on_several_seeds_scores_the_mean_of_its_seeds(tmp_path):
    result, = tune(_request(tmp_path), {}, Budget(trials=2, seeds=2), tmp_path)
    study = optuna.load_study(study_name=None, storage=f"sqlite:///{tmp_path / STUDIES / 'test_shrink.db'}")
    for trial in study.trials:
        first, second = trial.user_attrs["per_seed"]
        assert first != second and trial.value == pytest.approx((first + second) / 2)


def test_the_seeds_of_a_multi_seed_tuning_follow_the_tuning_seed(tmp_path):
    settings = tuning_settings(_request(tmp_path), 3)
    assert [s.setting.seed for s in settings] == [1000, 1001, 1002]


def test_a_study_on_more_seeds_is_another_study(tmp_path):
    plan, = plan_methods(_request(tmp_path), {})
    assert plan.identity(_request(tmp_path), 2) != plan.identity(_request(tmp_path))


def test_a_multi_seed_budget_is_labelled_with_its_seeds():
    assert Budget(trials=20, seeds=3).label == "20 trials x 3 seeds" and Budget(trials=20).label == "20 trials"


@pytest.mark.parametrize("budget", [dict(trials=0), dict(trials=None, seconds=0.0), dict(trials=None),
                                    dict(trials=2, seeds=0)])
def test_a_budget_must_be_positive_and_one_kind(budget):
    with pytest.raises(UserError):
        Budget(**budget)


def test_every_built_in_space_is_valid_for_every_model():
    for name in tunable_methods("class") + tunable_methods("random"):
        cls = METHODS.get(name)
        for model, dataset in (("mlp", "mnist"), ("cnn", "mnist"), ("resnet18", "cifar10"), ("mlp", "digits")):
            check_space(cls, cls.search_space, name, model, dataset)


def test_references_and_space_less_methods_are_not_tunable():
    assert "original" not in tunable_methods("class") and "retrain" not in tunable_methods("class")
    assert "unsir" in tunable_methods("class") and "unsir" not in tunable_methods("random")


@pytest.mark.parametrize("space, message", [
    ({"nope": Range(0.1, 1.0)}, "has no parameter nope"),
    ({"lr": Range(0.1, 0.01)}, "empty or inverted"),
    ({"lr": Range(0.1, 0.1)}, "empty or inverted"),
    ({"lr": Range(0.0, 0.1, log=True)}, "log range must lie above 0"),
    ({"threshold": Choice(())}, "choice is empty"),
    ({"threshold": Range(0.0, 1.0)}, "threshold must lie in (0, 1]"),  # an endpoint salun's Config rejects
    ({"lr": EpochShare(0.2)}, "epoch share needs an int field"),
])
def test_a_bad_space_is_refused_like_a_bad_set_value(space, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("]", r"\]")):
        check_space(SalUn, space, "salun")


def test_epoch_shares_become_ranges_of_the_recipe():
    assert resolve({"epochs": EpochShare(0.2)}, 40) == {"epochs": Range(1, 8)}
    assert resolve({"epochs": EpochShare(0.2)}, 4) == {"epochs": Choice((1,))}  # too few epochs to tune


@pytest.mark.parametrize("text, expected", [
    ("1e-4:1e-1:log", Range(1e-4, 1e-1, log=True)), ("1:5", Range(1.0, 5.0)), ("0.1|0.5", Choice(("0.1", "0.5"))),
    ("share:0.5", EpochShare(0.5)),
])
def test_space_flags_parse(text, expected):
    assert parse_dimension(text, "--space") == expected


@pytest.mark.parametrize("item", ["salun.lr=abc", "salun=1:2", "lr=1:2", "salun.lr=1:2:linear"])
def test_a_malformed_space_flag_is_a_user_error(item):
    with pytest.raises(UserError):
        parse_spaces([item])


def test_a_space_for_a_method_not_tuned_is_refused(tmp_path):
    with pytest.raises(UserError, match="not among --methods"):
        plan_methods(_request(tmp_path), {"unsir": {"impair_lr": Range(0.01, 0.1)}})


def test_a_field_both_fixed_and_tuned_is_refused(tmp_path):
    with pytest.raises(UserError, match="both fixed"):
        plan_methods(_request(tmp_path, params={"test_shrink": {"scale": "1"}}), {})


def test_reference_rows_cannot_be_tuned(tmp_path):
    with pytest.raises(UserError, match="reference row"):
        plan_methods(_request(tmp_path, methods=("retrain",)), {})


@pytest.mark.slow  # starting Ray takes half a minute here
def test_the_ray_backend_finds_what_the_local_one_does(tmp_path):
    pytest.importorskip("ray", reason="Ray is optional: pip install 'unlearnbench[ray]'")
    # Ray's workers see the built-in registries only: digits and built-in methods.
    request = RunRequest(dataset="digits", methods=("gradient_ascent", "ssd"), seed=1000, device="cpu",
                         cache_dir=tmp_path / "cache", recipe={"epochs": "3"})
    local = tune(request, {}, Budget(trials=3), tmp_path / "a")
    remote = tune(request, {}, Budget(trials=3), tmp_path / "b", backend="ray")
    assert [(r.method, r.history, r.params) for r in remote] == [(r.method, r.history, r.params) for r in local]


def test_tuning_without_a_validation_split_is_refused_before_any_work(tmp_path):
    with pytest.raises(UserError, match="val_fraction=0 leaves none"):
        plan_methods(RunRequest(dataset="tiny", methods=("test_shrink",), recipe={**TINY_RECIPE, "val_fraction": "0"}),
                     {})


@pytest.mark.slow  # two studies on digits, one of them killed and resumed
def test_a_study_killed_with_sigkill_resumes_as_if_never_stopped(tmp_path):
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    def command(out):
        return [sys.executable, "-m", "unlearnbench.cli", "tune", "--methods", "unsir", "--trials", "6", "--out",
                str(out), "--cache-dir", str(tmp_path / "cache"), "--quiet"]

    subprocess.run(command(tmp_path / "whole"), check=True, capture_output=True)
    process = subprocess.Popen(command(tmp_path / "cut"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = tmp_path / "cut" / STUDIES / "unsir.db"
    states: list = []
    while process.poll() is None and not ("COMPLETE" in states and "RUNNING" in states):
        time.sleep(0.05)
        if db.exists():
            try:
                states = [s for (s,) in sqlite3.connect(db).execute("SELECT state FROM trials")]
            except sqlite3.Error:
                pass
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert "RUNNING" in states, "the study ended before it could be killed mid-trial"
    subprocess.run(command(tmp_path / "cut"), check=True, capture_output=True)
    whole, cut = (read_params_file(next((tmp_path / d).glob("*.toml"))).methods["unsir"] for d in ("whole", "cut"))
    assert cut["trials"] == 6 and cut["history"] == whole["history"] and cut["params"] == whole["params"]


@pytest.mark.parametrize("value, edge", [(0.0957, "high"), (1.1e-5, "low"), (1e-3, None)])
def test_a_tuned_value_near_an_end_of_a_log_range_is_on_its_edge(value, edge):
    found = at_edge({"lr": Range(1e-5, 1e-1, log=True)}, {"lr": value})
    assert found == ({"lr": edge} if edge else {})


def test_an_int_range_is_on_its_edge_only_at_its_ends_and_a_choice_never():
    space = {"epochs": Range(1, 8), "mode": Choice(("a", "b"))}
    assert at_edge(space, {"epochs": 8, "mode": "b"}) == {"epochs": "high"}
    assert at_edge(space, {"epochs": 7, "mode": "a"}) == {}
