"""Suite files: grid expansion and validation messages that name the file and the key."""
from __future__ import annotations

import textwrap

import pytest

from unlearnbench.data.forget import ForgetSpec
from unlearnbench.execution.suite import SuiteError, load_suite


def _write(tmp_path, body: str):
    path = tmp_path / "grid.toml"
    path.write_text(textwrap.dedent(body))
    return path


GOOD = """
    name = "g"
    [grid]
    datasets = ["digits"]
    models = ["mlp", "cnn"]
    forget = [[0], [2, 0]]
    seeds = [0, 1]
    [recipe]
    epochs = 3
    [methods]
    original = {}
    unsir = { impair_lr = [0.01, 0.02], noise_steps = 5 }
"""


def test_grid_expands_to_one_request_per_setting_with_every_method_config(tmp_path):
    suite = load_suite(str(_write(tmp_path, GOOD)))
    assert len(suite.requests) == 2 * 2 * 2 and suite.cell_count == 8 * 3
    first = suite.requests[0]
    assert first.forget == ForgetSpec("class", (0,)) and first.recipe == {"epochs": 3}
    assert first.methods[1:] == (("unsir", {"impair_lr": 0.01, "noise_steps": 5}),
                                 ("unsir", {"impair_lr": 0.02, "noise_steps": 5}))
    assert suite.requests[2].forget == ForgetSpec("class", (0, 2))


def test_a_suite_can_ask_for_populations(tmp_path):
    suite = load_suite(str(_write(tmp_path, GOOD.replace('name = "g"', 'name = "g"\npopulation = 16'))))
    assert (suite.population, suite.protocol) == (16, "challenge")


@pytest.mark.parametrize("name", ["smoke", "mnist", "cifar10", "zoo", "stress"])
def test_builtin_suites_load(name):
    suite = load_suite(name)
    assert suite.name == name and suite.cell_count > 0


@pytest.mark.parametrize("edit,message", [
    (("datasets = [\"digits\"]", "datasets = [\"digit\"]"), "grid.toml: grid.datasets: Unknown dataset 'digit'"),
    (("models = [\"mlp\", \"cnn\"]", "models = [\"mlp\", 3]"), "grid.toml: grid.models: expected str"),
    (("forget = [[0], [2, 0]]", "forget = [[\"a\"]]"), "grid.toml: grid.forget: forget ['a'] is malformed"),
    (("impair_lr = [0.01, 0.02]", "impair_lr = [0.01, -1.0]"), "grid.toml: methods.unsir: UNSIRConfig.impair_lr must be > 0"),
    (("noise_steps = 5", "noise_stepz = 5"), "grid.toml: methods.unsir: unsir has no parameter noise_stepz"),
    (("original = {}", "orignal = {}"), "grid.toml: methods.orignal: Unknown method 'orignal'. Did you mean: original?"),
    (("epochs = 3", "epoch = 3"), "grid.toml: recipe: recipe has no parameter epoch"),
    (("name = \"g\"", "nmae = \"g\""), "grid.toml: unknown key 'nmae'"),
    (("seeds = [0, 1]", "seeds = [0, 1]\nsizes = 2"), "grid.toml: grid.sizes is not a grid key"),
    (("name = \"g\"", "name = \"g\"\ndeep_metrics = 1"), "grid.toml: deep_metrics must be true or false, got 1"),
    (("name = \"g\"", "name = \"g\"\npopulation = 2"), "grid.toml: population 2: a population needs at least 3"),
    (("name = \"g\"", "name = \"g\"\npopulation = 8\nprotocol = \"x\""), "grid.toml: protocol 'x': choose"),
])
def test_invalid_suites_name_the_file_and_key(tmp_path, edit, message):
    with pytest.raises(SuiteError) as info:
        load_suite(str(_write(tmp_path, GOOD.replace(*edit))))
    assert message in str(info.value)


def test_unknown_suite_lists_the_builtins():
    with pytest.raises(SuiteError, match=r"built-in suite \(cifar10, mnist, smoke, stress, zoo\)"):
        load_suite("nope")


def test_broken_toml_is_a_suite_error(tmp_path):
    with pytest.raises(SuiteError, match="grid.toml: cannot read TOML"):
        load_suite(str(_write(tmp_path, "[grid\n")))


def test_suites_take_scenario_specs_and_leave_out_methods_the_scenario_does_not_suit(tmp_path):
    text = GOOD.replace("forget = [[0], [2, 0]]", 'forget = ["random:0.1", [0]]')
    suite = load_suite(str(_write(tmp_path, text)))
    random_cells = [r for r in suite.requests if r.forget.scenario == "random"]
    assert random_cells and all(m[0] != "unsir" for r in random_cells for m in r.methods)
    assert suite.not_applicable == 2 * 2 * 2  # two unsir configs x two models x two seeds


def test_a_malformed_spec_in_a_suite_names_the_file_and_key(tmp_path):
    with pytest.raises(SuiteError, match=r"grid.toml: grid.forget: forget spec 'random:2.0'"):
        load_suite(str(_write(tmp_path, GOOD.replace("forget = [[0], [2, 0]]", 'forget = ["random:2.0"]'))))


def test_a_subclass_spec_on_a_dataset_without_superclasses_is_refused_before_any_cell(tmp_path):
    text = GOOD.replace('datasets = ["digits"]', 'datasets = ["fashion_mnist"]').replace(
        "forget = [[0], [2, 0]]", 'forget = ["subclass:0"]')
    with pytest.raises(SuiteError, match="grid.toml: grid.forget: forget spec 'subclass:0': fashion_mnist declares "
                                         "no superclasses"):
        load_suite(str(_write(tmp_path, text)))


@pytest.mark.parametrize("name,scenario", [("zoo", "class"), ("stress", "random")])
def test_the_zoo_and_stress_suites_run_every_built_in_method_that_suits_them(name, scenario):
    from unlearnbench.core.method import METHODS
    builtin = {n for n in METHODS.names() if METHODS.get(n).__module__.startswith("unlearnbench.methods.")
               and scenario in METHODS.get(n).scenarios}
    assert {m for r in load_suite(name).requests for m, _ in r.methods} >= builtin


def test_a_suite_can_ask_for_the_deep_metrics(tmp_path):
    suite = load_suite(str(_write(tmp_path, GOOD.replace('name = "g"', 'name = "g"\ndeep_metrics = true'))))
    assert all(r.deep_metrics for r in suite.requests)
