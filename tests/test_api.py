"""The Python API: run methods (names, classes, decorated functions) and get rows, tables, reports back."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import unlearnbench
from helpers import TINY_RECIPE
from unlearnbench.core.errors import UserError
from unlearnbench.core.method import METHODS


@pytest.fixture
def scaled_head():
    """A function method registered for one test, removed after."""

    @unlearnbench.method(name="scaled_head", access={"forget"}, scenarios={"class"})
    def scale(model: nn.Module, ctx) -> nn.Module:
        """Halves the last layer's weights."""
        model[-1].weight.data *= 0.5
        return model

    yield scale
    METHODS.remove("scaled_head")


def _run(tmp_path, methods, **extra):
    return unlearnbench.run(dataset="tiny", methods=methods, out=tmp_path / "out", device="cpu",
                            cache_dir=tmp_path / "cache", recipe=dict(TINY_RECIPE), **extra)


def test_a_decorated_function_runs_beside_built_in_methods_and_the_rows_come_back(tmp_path, scaled_head):
    results = _run(tmp_path, ["original", "retrain", scaled_head])
    assert [r["method"] for r in results.rows] == ["original", "retrain", "scaled_head"]
    assert all(r["status"] == "ok" for r in results.rows)
    assert "scaled_head" in results.table() and "scaled_head" in results.leaderboard()
    assert results.report().exists()


def test_seeds_give_one_row_per_method_and_seed(tmp_path):
    results = _run(tmp_path, ["original"], seeds=[0, 1])
    assert [(r["method"], r["seed"]) for r in results.rows] == [("original", 0), ("original", 1)]


def test_defining_a_function_method_again_replaces_it_with_a_warning(scaled_head):
    with pytest.warns(UserWarning, match="'scaled_head' is defined again"):
        @unlearnbench.method(name="scaled_head", access={"forget"}, scenarios={"class"})
        def scale_again(model, ctx):
            return model
    assert METHODS.get("scaled_head").function is scale_again


def test_a_name_taken_by_a_built_in_method_is_refused():
    with pytest.raises(UserError, match="the name is taken by unlearnbench.methods.unsir"):
        @unlearnbench.method(name="unsir", access={"forget"}, scenarios={"class"})
        def shadow(model, ctx):
            return model


def test_a_function_with_the_wrong_signature_is_a_one_line_error():
    with pytest.raises(UserError, match=r"takes \(model\); write it as def lone\(model, ctx\) -> model"):
        @unlearnbench.method(name="lone", access=(), scenarios={"class"})
        def lone(model):
            return model


def test_an_undecorated_function_or_an_unknown_option_is_refused(tmp_path):
    with pytest.raises(UserError, match="decorate it with @unlearnbench.method"):
        _run(tmp_path, [lambda model, ctx: model])
    with pytest.raises(UserError, match="unknown option 'epochs'"):
        _run(tmp_path, ["original"], epochs=3)


def test_a_function_that_returns_no_model_fails_its_cell_with_the_reason(tmp_path):
    @unlearnbench.method(name="forgets_to_return", access=(), scenarios={"class"})
    def forgets(model, ctx):
        model.eval()

    try:
        (row,) = _run(tmp_path, ["forgets_to_return"]).rows
    finally:
        METHODS.remove("forgets_to_return")
    assert row["status"] == "failed" and "returned NoneType, not the model" in row["error"]


@pytest.mark.parametrize("access,scenarios,message", [
    ({"test_split"}, {"class"}, "declares unknown access ['test_split']"),
    ({"forget"}, {"sample"}, "declares unknown scenarios ['sample']"),
])
def test_unknown_access_or_scenarios_are_one_line_errors(access, scenarios, message):
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        @unlearnbench.method(name="odd", access=access, scenarios=scenarios)
        def odd(model, ctx):
            return model
    assert "odd" not in METHODS


def test_a_method_class_must_declare_its_scenarios():
    from unlearnbench.core.method import Method

    class Undeclared(Method):
        def unlearn(self, model, ctx):
            return model

    with pytest.raises(ValueError, match="method Undeclared must declare `scenarios`"):
        METHODS.add("undeclared", Undeclared)


@pytest.mark.slow  # spawns two worker processes or a Ray cluster (10-40 s)
@pytest.mark.parametrize("backend", ["local", "ray"])
def test_a_method_defined_in_a_session_runs_in_workers_with_the_rows_of_a_local_run(tmp_path, backend):
    def ascend(model, ctx):  # local: a worker could not import it by name, it must travel by value
        x, y = ctx.forget()
        loss = -nn.functional.cross_entropy(model(x), y)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.01 * p.grad
        return model

    unlearnbench.method(name="session_ascent", access={"forget"}, scenarios={"class"})(ascend)
    try:
        common = dict(dataset="digits", methods=["original", "session_ascent"], seeds=[0, 1], device="cpu",
                      cache_dir=tmp_path / "cache", recipe={"epochs": "2"})
        local = unlearnbench.run(out=tmp_path / "local", **common).rows
        pooled = unlearnbench.run(out=tmp_path / "pooled", workers=2, backend=backend, **common).rows
    finally:
        METHODS.remove("session_ascent")
    key = lambda r: (r["seed"], r["method"])  # noqa: E731
    for a, b in zip(sorted(local, key=key), sorted(pooled, key=key)):
        assert (a["method"], a["seed"], a["status"], b["status"]) == (b["method"], b["seed"], "ok", "ok")
        assert a["metrics"]["acc_forget_test"] == pytest.approx(b["metrics"]["acc_forget_test"], abs=1e-3)
