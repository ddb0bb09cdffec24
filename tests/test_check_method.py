"""`unlearnbench.testing.check_method`: the contract a method's author can run, each failure naming its rule."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from unlearnbench.core.method import METHODS, Method
from unlearnbench.testing import MethodCheckError, check_method


class _Base(Method):
    scenarios = frozenset({"class"})
    access = frozenset({"forget"})
    name = "bad"


class Unchanged(_Base):
    def unlearn(self, model, ctx):
        return model


class ReadsTheTestSplit(_Base):
    def unlearn(self, model, ctx):
        with torch.no_grad():
            model[-1].bias += ctx._setting.data.x_test.mean()
        return model


class ChangesTheArchitecture(_Base):
    def unlearn(self, model, ctx):
        return nn.Sequential(*model, nn.Linear(model[-1].out_features, model[-1].out_features))


class Random(_Base):
    def unlearn(self, model, ctx):
        with torch.no_grad():
            model[-1].bias += torch.randn(model[-1].bias.shape)  # the global RNG, not ctx.rng
        return model


class ReadsUndeclaredData(_Base):
    def unlearn(self, model, ctx):
        ctx.retain()
        return model


@pytest.mark.parametrize("cls,rule", [
    (Unchanged, "changes the weights"),
    (ReadsTheTestSplit, "never reads the test split"),
    (ChangesTheArchitecture, "same architecture"),
    (Random, "deterministic for a seed"),
    (ReadsUndeclaredData, "reads only declared data"),
])
def test_each_broken_rule_is_named(cls, rule, tmp_path):
    with pytest.raises(MethodCheckError, match=f"bad: rule '{rule}' failed"):
        check_method(cls(), tmp_path)


# The contract, not the recipe: SFR-on's 1,500 iterations would take ~30 s of tiny cells, and LFSSD's paper alpha
# selects no parameter of the tiny model with its authors' class-ordered batches (it returns the model unchanged).
ON_TINY = {"sfron": {"iterations": "40"}, "lfssd": {"alpha": "1"}}


@pytest.mark.parametrize("name", [n for n in METHODS.names() if METHODS.get(n).__module__.startswith(
    "unlearnbench.methods.") and METHODS.get(n).role == "method"])
def test_every_built_in_method_meets_the_contract(name, tmp_path_factory):
    check_method(METHODS.get(name).from_params(ON_TINY.get(name, {})), tmp_path_factory.getbasetemp() / "check-cache")
