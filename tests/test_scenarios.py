"""Forgetting scenarios end to end: scenario-aware scoring, methods that do not suit a scenario, back compatibility."""
from __future__ import annotations

import pytest

from helpers import TINY_RECIPE, stored_row, tiny_setting
from unlearnbench.core.method import METHODS
from unlearnbench.execution.runner import RunRequest, cell_key, build_methods, run
from unlearnbench.execution.store import open_store
from unlearnbench.reports.aggregate import aggregate
from unlearnbench.reports.html import render_report
from unlearnbench.reports.leaderboard import leaderboard_markdown

TINY = ["--dataset", "tiny", "--device", "cpu", "--recipe", "epochs=3", "--quiet"]


def _run(tmp_path, forget, methods=("original", "retrain", "finetune")):
    request = RunRequest(dataset="tiny", methods=methods, forget=forget, device="cpu", cache_dir=tmp_path / "cache",
                         recipe=TINY_RECIPE, params={"finetune": {"epochs": "1"}} if "finetune" in methods else {})
    return run(request, open_store(tmp_path / "out"))


def test_random_forgetting_stores_no_forget_test_accuracy(tmp_path):
    original, retrain, finetune = _run(tmp_path, "random:0.1")
    assert original["forget"] == ["random:0.1"]
    for row in (original, retrain, finetune):
        assert "acc_forget_test" not in row["metrics"] and "acc_retain_test" not in row["metrics"]
        assert {"acc_test", "acc_forget_train", "mia_loss", "mia_loss_auc"} <= set(row["metrics"])


def test_random_forgetting_keeps_the_forgotten_samples_classified_by_the_retrained_model(tmp_path):
    _, retrain, _ = _run(tmp_path, "random:0.1", ("original", "retrain", "finetune"))
    assert retrain["metrics"]["acc_forget_train"] > 0.8  # its target is the retrained model's accuracy, never 0


def test_partial_forgetting_defines_forget_test_as_the_classes_test_samples(tmp_path):
    _, retrain, _ = _run(tmp_path, "partial:1@0.5")
    assert retrain["metrics"]["acc_forget_test"] > 0.8  # half of class 1 is still trained on


def test_subclass_forgetting_trains_on_superclasses(tmp_path):
    setting = tiny_setting(tmp_path, forget="subclass:1")
    assert setting.data.num_classes == 2 and setting.new_model()(setting.data.x_test[:1]).shape == (1, 2)
    assert (setting.data.fine_train[setting.split.forget_train] == 1).all()


def test_an_explicit_method_that_does_not_suit_the_scenario_stops_before_training(cli, tmp_path):
    code, _, err = cli("run", *TINY, "--forget", "random:0.1", "--methods", "original,unsir", "--out",
                       str(tmp_path / "o"))
    assert code == 2 and err.count("\n") == 1
    assert "unsir does not support random forgetting (random:0.1): it supports class" in err
    assert not (tmp_path / "cache").exists()


def test_the_default_method_list_skips_what_the_scenario_does_not_suit_and_says_so(cli, tmp_path):
    code, out, _ = cli("run", *TINY, "--forget", "random:0.1", "--out", str(tmp_path / "o"))
    assert code == 0 and "n/a (random scenario, not run): unsir" in out and " unsir " not in out.split("n/a")[0]


def test_reports_show_not_applicable_methods_as_n_a_not_as_zero():
    rows = [stored_row("retrain", 0, 0.0), stored_row("unsir", 0, 0.1),
            {**stored_row("retrain", 0, 0.0), "forget": ["random:0.1"]},
            {**stored_row("finetune", 0, 0.1), "forget": ["random:0.1"]}]
    settings = aggregate(rows)
    assert [s.spec.label for s in settings] == ["0", "random:0.1"] and settings[1].not_applicable == ["unsir"]
    assert "n/a (random scenario, not run): unsir." in leaderboard_markdown(rows)
    html = render_report(rows)
    assert "n/a (random scenario, not run): unsir" in html and "tiny / mlp, forget random:0.1" in html


def test_whole_class_cells_keep_the_keys_they_had_before_scenarios(monkeypatch):
    # Known answer: the key of digits/mlp forget {0, 2} unsir, computed by the code before forget specs and the
    # validation split (0911dd9); val_fraction=0 is that code's recipe, and these were its unsir defaults there.
    # The key scheme is what is pinned: unsir's version (2 since it stopped augmenting) is set back to that code's.
    monkeypatch.setattr(METHODS.get("unsir"), "version", 1)
    request = RunRequest(dataset="digits", forget=(0, 2), device="cpu", methods=("unsir",),
                         recipe={"val_fraction": 0}, defaults="paper",  # that code's values: the paper's plus these
                         params={"unsir": {"impair_lr": "0.008", "repair_lr": "0.002", "repair_epochs": "8"}})
    assert cell_key(request, build_methods(request)[0]) == "5cefaa99964ad9584902"
    assert request.forget.stored == [0, 2]


@pytest.mark.parametrize("spec,message", [
    ("partial:0@54", "54 sample(s) of class 0 of tiny asked for, but it has 54"),
    ("random:216", "216 sample(s) of the train split of tiny asked for"),
    ("subclass:4", "forget class 4 is out of range: tiny has fine classes 0..3"),
])
def test_impossible_specs_are_one_line_before_any_training(cli, tmp_path, spec, message):
    code, _, err = cli("run", *TINY, "--forget", spec, "--out", str(tmp_path / "o"))
    assert code == 2 and message in err and err.count("\n") == 1 and not (tmp_path / "cache").exists()


def test_the_method_listing_shows_each_methods_scenarios(cli):
    code, out, _ = cli("methods")
    unsir = next(line for line in out.splitlines() if line.startswith("unsir"))
    assert code == 0 and "scenarios: class  access: retain_subset" in unsir
    assert "scenarios: class,partial,random,subclass" in next(l for l in out.splitlines() if l.startswith("finetune"))


def test_a_store_written_before_scenarios_renders_unchanged(tmp_path):
    # reports/examples/results.db holds rows stored before forget specs and the validation split existed.
    import shutil
    from pathlib import Path

    stored = shutil.copy(Path(__file__).parents[1] / "reports" / "examples" / "results.db", tmp_path / "results.db")
    store = open_store(tmp_path, create=False)
    try:
        rows = store.rows()
    finally:
        store.close()
    settings = aggregate(rows)
    # Their values follow the first metric definitions, and the title says so.
    assert [s.title for s in settings] == ["mnist / mlp, forget {0}, metric definitions v1",
                                           "mnist / mlp, forget {0, 2}, metric definitions v1"]
    assert all(s.scenario == "class" and "val_fraction" not in s.recipe for s in settings)
    assert "mnist / mlp, forget {0, 2}, metric definitions v1" in render_report(rows, str(stored))


def test_methods_all_lists_every_method_references_first_and_skips_the_unsuited():
    import pkgutil

    import unlearnbench.methods
    from unlearnbench.cli.main import _setting_request, build_parser
    from unlearnbench.execution.runner import build_methods, not_applicable

    request = _setting_request(build_parser().parse_args(["run", "--methods", "all", "--forget", "random:0.1"]))
    built_in = {m.name for m in pkgutil.iter_modules(unlearnbench.methods.__path__)}  # one method per module
    assert request.methods[:2] == ("original", "retrain") and set(request.methods) == built_in
    assert "unsir" in not_applicable(request) and "unsir" not in [m.name for m in build_methods(request)]
