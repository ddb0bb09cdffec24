"""The yardstick: forgetting, utility and privacy scored apart against the retrained model, computed from raw values
at render time; the noise floor; rank groups; failed seeds counted (known answers on stored rows and tiny runs)."""
from __future__ import annotations

import math

import pytest
from torch import nn

from helpers import TINY_RECIPE, stored_row
from unlearnbench.core.method import METHODS, Method
from unlearnbench.execution.runner import RunRequest, run
from unlearnbench.execution.store import open_store
from unlearnbench.metrics import YARDSTICKS, yardstick
from unlearnbench.metrics.yardstick import membership_table
from unlearnbench.reports.aggregate import aggregate
from unlearnbench.reports.leaderboard import leaderboard_csv, leaderboard_markdown
from unlearnbench.reports.ranking import rank_setting

RETRAINED = {"acc_forget_train": 0.0, "acc_forget_test": 0.0, "acc_retain_train": 1.0, "acc_retain_test": 0.9,
             "acc_test": 0.81, "mia_loss_auc": 0.5, "mia_entropy_auc": 0.5, "mia_svc_auc": 0.5, "mia_svc": 0.1}


def test_each_concern_is_the_mean_distance_of_its_members_and_the_composite_weighs_them_equally():
    model = {**RETRAINED, "acc_forget_train": 0.6, "acc_forget_test": 0.4, "acc_retain_test": 0.8,
             "mia_loss_auc": 0.8, "acc_test": 0.0}  # acc_test is not a member in class forgetting
    score = yardstick("concerns").score(model, RETRAINED, "class")
    assert score["gap_forget"] == pytest.approx(0.5)
    assert score["gap_utility"] == pytest.approx(0.05)
    assert score["gap_privacy"] == pytest.approx(0.1)
    assert score["retrain_gap"] == pytest.approx((0.5 + 0.05 + 0.1) / 3)


def test_random_forgetting_judges_forget_train_and_test_accuracy():
    model = {**RETRAINED, "acc_forget_train": 1.0, "acc_test": 0.71}
    score = yardstick("concerns").score(model, RETRAINED, "random")
    assert score["gap_forget"] == pytest.approx(1.0)  # doing nothing no longer looks like forgetting
    assert score["gap_utility"] == pytest.approx(0.05)


def test_salun_avg_gap_is_the_mean_of_ua_ra_ta_and_mia_efficacy_gaps():
    model = {**RETRAINED, "acc_forget_train": 0.2, "acc_retain_train": 0.9, "acc_retain_test": 0.7, "mia_svc": 0.5}
    score = yardstick("salun").score(model, RETRAINED, "class")
    assert score["salun_gap_ua"] == pytest.approx(0.2)  # |(1 - 0.2) - (1 - 0)|
    assert score["salun_gap_ta"] == pytest.approx(0.2)  # class-wise TA: the retained classes' test accuracy
    assert score["salun_gap_mia"] == pytest.approx(0.4)  # |(1 - 0.5) - (1 - 0.1)|
    assert score["salun_avg_gap"] == pytest.approx((0.2 + 0.1 + 0.2 + 0.4) / 4)


def test_a_concern_without_any_value_leaves_the_composite_undefined():
    partial = {k: v for k, v in RETRAINED.items() if not k.endswith("_auc")}
    score = yardstick("concerns").score(partial, partial, "class")
    assert math.isnan(score["gap_privacy"]) and math.isnan(score["retrain_gap"])


def test_the_membership_table_names_every_part_of_every_definition():
    table = membership_table()
    for definition in YARDSTICKS.values():
        assert all(f"`{part}`" in table for part in definition.parts)
    assert "| concerns v2 | `gap_forget` | `acc_forget_train`, `acc_forget_test` |" in table


def test_the_metrics_page_shows_the_membership_table_as_the_registry_declares_it():
    from pathlib import Path

    page = (Path(__file__).parents[1] / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert membership_table() in page


@pytest.fixture
def copy_of_retrain():
    """A method that returns the retrained model itself, registered for one test."""

    class CopyOfRetrain(Method):
        access = frozenset({"retain"})
        scenarios = frozenset({"class"})

        def unlearn(self, model: nn.Module, ctx) -> nn.Module:
            return ctx.retrained()

    METHODS.add("copy_of_retrain", CopyOfRetrain)
    yield "copy_of_retrain"
    METHODS.remove("copy_of_retrain")


@pytest.fixture(scope="module")
def tiny_class_rows(tmp_path_factory):
    """original, retrain and the noise floor on the tiny dataset, forget class 0, seeds 0-1."""
    folder = tmp_path_factory.mktemp("yardstick")
    store = open_store(folder / "out")
    rows = []
    for seed in (0, 1):
        request = RunRequest(dataset="tiny", methods=("original", "retrain", "retrain_independent"), device="cpu",
                             cache_dir=folder / "cache", recipe=TINY_RECIPE, seed=seed)
        rows += run(request, store)
    return rows


def test_a_copy_of_the_retrained_model_gets_the_references_values_exactly(tmp_path, copy_of_retrain):
    # Every score is seeded by the cell, not by the method: a method that reaches the retrained model gets a gap of
    # exactly 0 in every concern, never one of scoring noise.
    request = RunRequest(dataset="tiny", methods=("retrain", copy_of_retrain), device="cpu",
                         cache_dir=tmp_path / "cache", recipe=TINY_RECIPE)
    retrain, copy = (r["metrics"] for r in run(request, open_store(tmp_path / "out")))
    members = {n for names in yardstick("concerns").members("class").values() for n in names}
    assert members <= set(copy) and {n: copy[n] for n in members} == {n: retrain[n] for n in members}


def test_the_original_is_further_than_an_independent_retrain_in_forgetting(tiny_class_rows):
    (setting,) = aggregate(tiny_class_rows)
    by_role = {m.role: m for m in setting.methods}
    assert by_role["original"].metrics["gap_forget"].mean > 0.5
    assert by_role["floor"].metrics["gap_forget"].mean < 0.2


def test_the_original_and_the_retrained_model_start_from_different_weights(tiny_class_rows):
    (setting,) = aggregate(tiny_class_rows)
    floor = next(m for m in setting.methods if m.role == "floor")
    assert floor.metrics["weight_dist_to_retrain"].mean > 0  # its own seed streams: another model than retrain


def _rows(method, gaps, status="ok"):
    return [{**stored_row(method, seed, gap, status=status), "id": 100 * len(method) + seed}
            for seed, gap in enumerate(gaps)]


REFERENCES = _rows("retrain", [0.0, 0.0, 0.0]) + _rows("original", [0.30, 0.31, 0.29])


def test_a_method_equal_to_the_original_is_tied_with_it_below_methods_that_forget():
    rows = REFERENCES + _rows("noop", [0.30, 0.31, 0.29]) + _rows("forgetter", [0.010, 0.012, 0.011])
    ranking = rank_setting(aggregate(rows)[0])
    rank = {r.result.method: r.rank_text for r in ranking.ranked}
    assert rank["forgetter"] == "1" and rank["noop"] == rank["original"] == "2="
    assert ranking.like_original == ["noop"]


def test_a_method_that_failed_on_every_seed_shows_ok_0_of_3_and_is_not_ranked():
    rows = REFERENCES + _rows("forgetter", [0.01, 0.01, 0.02]) + _rows("neggrad_plus", [0, 0, 0], status="failed")
    ranking = rank_setting(aggregate(rows)[0])
    assert [m.ok_text for m in ranking.unscored] == ["ok 0/3"]
    assert "neggrad_plus" not in [r.result.method for r in ranking.ranked]
    assert "neggrad_plus (ok 0/3)" in leaderboard_markdown(rows)


def test_a_row_with_a_failed_seed_ranks_after_every_complete_row():
    failed_once = _rows("flaky", [0.001, 0.001]) + [_rows("flaky", [0, 0, 0], status="failed")[2]]
    rows = REFERENCES + failed_once + _rows("forgetter", [0.05, 0.06, 0.05])
    ranking = rank_setting(aggregate(rows)[0])
    assert [r.result.method for r in ranking.ranked][-1] == "flaky"
    assert ranking.ranked[-1].result.ok_text == "ok 2/3"


def test_rows_with_fewer_seeds_are_listed_apart():
    rows = REFERENCES + _rows("forgetter", [0.05, 0.06, 0.05]) + _rows("late", [0.01])
    ranking = rank_setting(aggregate(rows)[0])
    assert [m.method for m in ranking.apart] == ["late"]
    assert "late" not in [r.result.method for r in ranking.ranked]


def test_one_seed_ranks_by_mean_and_says_it_is_untested():
    rows = [r for r in REFERENCES + _rows("forgetter", [0.05, 0.06, 0.05]) if r["seed"] == 0]
    text = leaderboard_markdown(rows)
    assert "One seed: ranks follow the mean alone, untested" in text
    assert "1=" not in text


def test_a_stored_gap_is_never_shown_it_is_recomputed_from_the_raw_values():
    stale = [{**r, "metrics": {**r["metrics"], "retrain_gap": 0.999}} for r in _rows("forgetter", [0.05] * 3)]
    (setting,) = aggregate(REFERENCES + stale)
    forgetter = next(m for m in setting.methods if m.method == "forgetter")
    assert forgetter.metrics["retrain_gap"].mean == pytest.approx(0.05)


def test_rows_of_older_definitions_render_as_a_setting_of_their_own():
    old = [{**r, "definitions": None} for r in REFERENCES]
    titles = [s.title for s in aggregate(REFERENCES + _rows("forgetter", [0.05] * 3) + old)]
    assert titles == ["tiny / mlp, forget {0}", "tiny / mlp, forget {0}, metric definitions v1"]


def test_rows_of_another_device_kind_or_method_version_are_not_averaged_together():
    gpu = [{**r, "env": {**r["env"], "device": "cuda:0"}} for r in REFERENCES]
    assert len(aggregate(REFERENCES + gpu)) == 2
    v2 = [{**r, "method_version": 2, "id": r["id"] + 50} for r in _rows("forgetter", [0.05] * 3)]
    (setting,) = aggregate(REFERENCES + _rows("forgetter", [0.05] * 3) + v2)
    assert sorted(m.label for m in setting.methods if m.method == "forgetter") == \
        ["forgetter [v1 []]", "forgetter [v2 []]"]


def test_the_role_is_read_from_the_stored_row():
    rows = REFERENCES + [{**r, "role": "floor"} for r in _rows("my_floor", [0.01, 0.02, 0.01])]
    ranking = rank_setting(aggregate(rows)[0])
    assert ranking.floor is not None and ranking.floor.method == "my_floor"


def test_the_leaderboard_csv_gives_every_value_its_interval_bounds():
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(leaderboard_csv(REFERENCES + _rows("forgetter", [0.05, 0.06, 0.05])))))
    assert {"retrain_gap", "retrain_gap_lo", "retrain_gap_hi", "acc_forget_test_lo"} <= set(rows[0])
    for row in rows:
        for name in ("acc_forget_test", "gap_forget"):
            if row.get(f"{name}_lo"):
                assert 0.0 <= float(row[f"{name}_lo"]) <= float(row[f"{name}_hi"]) <= 1.0


def test_the_salun_definition_is_named_in_the_leaderboard():
    text = leaderboard_markdown(REFERENCES + _rows("forgetter", [0.05] * 3), gap="salun")
    assert "SalUn Avg. Gap (salun v1)" in text and "Avg. Gap (SalUn)" in text


def test_an_unknown_gap_definition_is_a_one_line_error(cli, tmp_path):
    code, _, err = cli("leaderboard", "--out", str(tmp_path), "--gap", "avg")
    assert code == 2 and err.count("\n") == 1 and "unknown gap definition 'avg'; choose one of concerns, salun" in err


def test_leaderboard_and_report_render_the_salun_gap_from_a_store(cli, tmp_path, tiny_class_rows):
    store = open_store(tmp_path / "out")
    for row in tiny_class_rows:
        store.insert(row)
    store.close()
    code, out, _ = cli("leaderboard", "--out", str(tmp_path / "out"), "--gap", "salun")
    assert code == 0 and "Avg. Gap (SalUn)" in out and "retrain gap" not in out
    code, out, _ = cli("report", "--out", str(tmp_path / "out"), "--gap", "salun")
    assert code == 0 and "SalUn Avg. Gap" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
