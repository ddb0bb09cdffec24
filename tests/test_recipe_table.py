"""The recipe table docs/running.md shows (unlearnbench.devtools.recipes)."""
from __future__ import annotations

from pathlib import Path

from unlearnbench.devtools.recipes import recipe_table

EXAMPLE = Path(__file__).resolve().parents[1] / "reports" / "examples" / "digits-mlp-all"


def test_each_row_is_the_recipe_the_harness_trains_with():
    assert "| digits / mlp | 40 | 0.05 | 64 | SGD, Nesterov momentum 0.9, weight decay 0.0005 | onecycle | - |" \
        in recipe_table([])


def test_the_originals_test_accuracy_comes_from_a_stored_run():
    from unlearnbench.api import results

    original = next(r for r in results(EXAMPLE).rows if r["method"] == "original" and r["seed"] == 0)
    expected = f"{100 * original['metrics']['acc_test']:.2f} % (`{EXAMPLE}`)"
    assert expected in recipe_table([EXAMPLE]).splitlines()[2]
