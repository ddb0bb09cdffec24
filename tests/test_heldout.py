"""The held-out comparison of tuned values: scores on unseen seeds' validation side, one-line errors."""
from __future__ import annotations

import math

import pytest

from unlearnbench.core.errors import UserError
from unlearnbench.devtools import heldout


def _values(path, scale):
    path.write_text(f'[methods.test_shrink]\nparams = {{scale = {scale}}}\n')
    return path


def test_the_same_values_score_the_same_and_both_count_as_lowest(tmp_path, shrink_method):
    a, b = _values(tmp_path / "a.toml", 0.5), _values(tmp_path / "b.toml", 0.5)
    scores = heldout.heldout_scores([a, b], "tiny", "mlp", "0", [7, 8], cache_dir=str(tmp_path / "cache"))
    assert scores[str(a)] == scores[str(b)]
    assert "| 1 of 1 |" in heldout.heldout_table(scores, "7,8").splitlines()[2]


def test_values_that_diverge_are_counted_apart_not_averaged(tmp_path, shrink_method):
    fine, broken = _values(tmp_path / "fine.toml", 0.5), _values(tmp_path / "broken.toml", 9.0)  # 9: NaN weights
    scores = heldout.heldout_scores([fine, broken], "tiny", "mlp", "0", [7], cache_dir=str(tmp_path / "cache"))
    rows = heldout.heldout_table(scores, "7").splitlines()[2:]
    assert rows[0].endswith("| 1 of 1 | 0 of 1 | 0 |") and rows[1] == f"| `{broken}` | - | 0 of 1 | 0 of 1 | 1 |"


def test_a_model_forgets_when_the_forgotten_class_is_gone_and_the_rest_kept():
    original = {"acc_forget_test": 0.98, "acc_retain_test": 0.97}
    assert heldout.forgets({"acc_forget_test": 0.05, "acc_retain_test": 0.92}, original) == 1.0
    assert heldout.forgets({"acc_forget_test": 0.06, "acc_retain_test": 0.97}, original) == 0.0  # kept the class
    assert heldout.forgets({"acc_forget_test": 0.0, "acc_retain_test": 0.91}, original) == 0.0  # lost the rest


def test_forgetting_is_undefined_where_no_forgotten_class_is_held_out():
    assert math.isnan(heldout.forgets({"acc_test": 0.9}, {"acc_test": 0.9}))


def test_the_per_method_table_shows_each_files_objective_and_share(tmp_path):
    scores = {"a.toml": {"m": heldout.HeldOut(0.25, 0.6)}, "b.toml": {"m": heldout.HeldOut(0.5, math.nan)}}
    lines = heldout.per_method_table(scores).splitlines()
    assert lines[2] == "| m | 0.2500 | 60% | 0.5000 | - |" and lines[-1] == "(2) `b.toml`"


@pytest.mark.parametrize("text, seeds", [("2000-2002", [2000, 2001, 2002]), ("0,1,2", [0, 1, 2]), ("5", [5])])
def test_seeds_are_a_range_or_a_list(text, seeds):
    assert heldout.parse_seeds(text) == seeds


def test_a_file_without_method_values_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[setting]\ndataset = "digits"\n')
    assert heldout.main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a shipped defaults or tuned-parameters file" in err


def test_bad_seeds_are_a_one_line_error(tmp_path):
    with pytest.raises(UserError, match="give a range like 2000-2004"):
        heldout.parse_seeds("a-b")
