"""Shipped per-setting defaults: chosen by the harness's tuning, used unless --defaults paper, recorded per row."""
from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

from helpers import TINY_RECIPE
from unlearnbench.core import shipped
from unlearnbench.core.config import config_dict
from unlearnbench.core.errors import UserError
from unlearnbench.core.method import METHODS
from unlearnbench.execution.runner import RunRequest

UNSIR = METHODS.get("unsir")


class _File:
    """A stand-in for a packaged file (the two calls core.shipped makes)."""

    def __init__(self, name: str, text: str) -> None:
        self.name, self._text = name, text

    def read_text(self, encoding: str = "utf-8") -> str:
        return self._text


@pytest.fixture
def shipped_unsir(monkeypatch):
    """Ships one file for tiny/mlp class forgetting holding unsir's values; the caller picks version and value."""
    def ship(version: int = UNSIR.version, impair_lr: float = 0.005) -> None:
        text = ('[shipped]\ndataset = "tiny"\nmodel = "mlp"\nscenario = "class"\n\n[methods.unsir]\n'
                f'version = {version}\nparams = {{impair_lr = {impair_lr}, repair_epochs = 3}}\n')
        monkeypatch.setattr(shipped, "shipped_files", lambda: [_File("tiny-mlp-class.toml", text)])
        shipped.reload()

    yield ship
    monkeypatch.undo()
    shipped.reload()


def test_every_shipped_file_loads_and_every_value_passes_its_config():
    for file in shipped.shipped_files():
        data = shipped.tomllib.loads(file.read_text())
        setting = data["shipped"]
        for name, entry in data["methods"].items():
            cls = METHODS.get(name)
            assert entry["version"] == cls.version, f"{file.name}: {name} was tuned at another version"
            method = cls.from_params({}, setting["model"], setting["dataset"], setting["scenario"])
            assert method.defaults_source == shipped.SHIPPED
            assert all(config_dict(method.cfg)[k] == v for k, v in entry["params"].items()), file.name


def test_shipped_values_replace_the_authors_and_the_method_says_so(shipped_unsir):
    shipped_unsir()
    method = UNSIR.from_params({}, "mlp", "tiny", "class")
    assert (method.cfg.impair_lr, method.cfg.repair_epochs, method.defaults_source) == (0.005, 3, "shipped-tuned")


def test_explicit_parameters_still_win_over_shipped_ones(shipped_unsir):
    shipped_unsir()
    assert UNSIR.from_params({"impair_lr": 0.03}, "mlp", "tiny", "class").cfg.impair_lr == 0.03


def test_paper_defaults_ignore_what_is_shipped(shipped_unsir):
    shipped_unsir()
    method = UNSIR.from_params({}, "mlp", "tiny", "class", defaults="paper")
    assert (method.cfg.impair_lr, method.defaults_source) == (UNSIR.Config().impair_lr, "paper")


def test_a_setting_without_shipped_values_runs_the_authors_defaults(shipped_unsir):
    shipped_unsir()
    assert UNSIR.from_params({}, "cnn", "tiny", "class").defaults_source == "paper"


def test_a_file_for_another_method_version_falls_back_with_one_warning_naming_it(shipped_unsir):
    shipped_unsir(version=UNSIR.version + 7)
    with pytest.warns(shipped.ShippedDefaultsWarning, match="tiny-mlp-class.toml.*tuned for version"):
        method = UNSIR.from_params({}, "mlp", "tiny", "class")
    assert method.defaults_source == "paper" and method.cfg.impair_lr == UNSIR.Config().impair_lr
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per method and file, not once per cell
        UNSIR.from_params({}, "mlp", "tiny", "class")


def test_a_value_the_config_refuses_falls_back_with_one_warning_naming_the_file(shipped_unsir):
    shipped_unsir(impair_lr=-1.0)
    with pytest.warns(shipped.ShippedDefaultsWarning, match="tiny-mlp-class.toml.*refused"):
        assert UNSIR.from_params({}, "mlp", "tiny", "class").defaults_source == "paper"


def test_an_unknown_defaults_word_is_refused_in_python():
    with pytest.raises(UserError, match="--defaults 'tuned' is not one of shipped, paper"):
        RunRequest(dataset="tiny", defaults="tuned")


def test_an_unknown_defaults_word_is_a_one_line_error_on_the_command_line():
    done = subprocess.run([sys.executable, "-m", "unlearnbench.cli", "run", "--defaults", "best"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "invalid choice: 'best'" in done.stderr


def test_each_row_records_the_defaults_it_ran_with(tmp_path, shipped_unsir):
    import unlearnbench

    shipped_unsir()
    rows = unlearnbench.run(dataset="tiny", methods=["original", "retrain", "unsir", "finetune"], out=tmp_path / "out",
                            device="cpu", cache_dir=tmp_path / "cache", recipe=dict(TINY_RECIPE)).rows
    assert {r["method"]: r["defaults"] for r in rows}["unsir"] == "shipped-tuned"
    assert {r["method"]: r["defaults"] for r in rows}["finetune"] == "paper"


def test_the_command_line_shows_a_warning_as_one_line(monkeypatch):
    from unlearnbench.cli.main import main

    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # restored after the test
    main(["methods"])
    message = shipped.ShippedDefaultsWarning("unsir: shipped defaults in methods/defaults/x.toml not used")
    assert warnings.formatwarning(message, shipped.ShippedDefaultsWarning, "method.py", 1) == \
        "unlearnbench: warning: unsir: shipped defaults in methods/defaults/x.toml not used\n"


def test_regenerating_an_unknown_setting_is_a_one_line_error(capsys):
    # Regression: the tool's error path named a helper it never imported (NameError instead of the message).
    from unlearnbench.devtools.ship_defaults import main as ship

    assert ship(["--settings", "digits/mlp/sideways"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ship_defaults: error: digits/mlp/sideways: the scenario must be one of")
    assert err.count("\n") == 1


def test_a_file_tuned_on_several_seeds_ships_them_and_is_listed_with_them(monkeypatch):
    from pathlib import Path

    from unlearnbench.devtools import ship_defaults
    from unlearnbench.execution.params_file import TunedParams

    tuned = TunedParams(Path("t.toml"), {"forget": "0", "tune_seed": 1000, "tune_seeds": [1000, 1001, 1002],
                                         "device": "cpu"},
                        {"objective": "val_retrain_gap", "budget_trials": 20, "unlearnbench": "0.1.0",
                         "optuna": "5.0.0", "updated": "2026-11-30T00:00:00+00:00"},
                        {"unsir": {"version": UNSIR.version, "params": {"impair_lr": 0.005}}}, "0" * 16)
    text = ship_defaults.render("tiny/mlp/class", tuned, "python -m ...", 1.0)
    assert "tune_seeds = [1000, 1001, 1002]" in text
    monkeypatch.setattr(shipped, "shipped_files", lambda: [_File("tiny-mlp-class.toml", text)])
    shipped.reload()
    try:
        assert "| 20 trials x 3 seeds each |" in ship_defaults.shipped_table()
    finally:
        monkeypatch.undo()
        shipped.reload()
