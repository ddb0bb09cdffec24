"""The generic registry: registration, duplicates, type checks and helpful misses."""
from __future__ import annotations

import pytest
from torch import nn

from unlearnbench.core.errors import UnknownNameError
from unlearnbench.core.method import METHODS, Method
from unlearnbench.core.registry import Registry


class _Base:
    pass


def test_register_and_get_returns_the_object():
    reg: Registry = Registry("thing")

    @reg.register("alpha")
    def alpha():
        return 1

    assert reg.get("alpha") is alpha
    assert "alpha" in reg and reg.names() == ["alpha"]


def test_duplicate_name_raises_naming_both_origins():
    reg: Registry = Registry("thing")
    reg.register("alpha")(lambda: 1)
    with pytest.raises(ValueError, match=r"already registered by .*<lambda>.*cannot take the same name"):
        reg.register("alpha")(lambda: 2)


def test_miss_suggests_close_names_and_lists_all():
    reg: Registry = Registry("method")
    for name in ("unsir", "retrain", "finetune"):
        reg.register(name)(object())
    with pytest.raises(UnknownNameError) as info:
        reg.get("unsri")
    assert str(info.value) == "Unknown method 'unsri'. Did you mean: unsir? Available: finetune, retrain, unsir"


def test_miss_is_a_key_error_not_none():
    with pytest.raises(KeyError):
        Registry("thing").get("nothing")


def test_base_class_is_enforced():
    reg: Registry = Registry("thing", base=_Base)
    with pytest.raises(TypeError, match="not a subclass of _Base"):
        reg.register("bad")(int)


def test_names_must_be_lowercase_identifiers():
    with pytest.raises(ValueError, match="lowercase"):
        Registry("thing").register("Bad-Name")


def test_method_registry_rejects_non_methods_and_unknown_access():
    with pytest.raises(TypeError):
        METHODS.register("not_a_method")(nn.Linear)

    class Greedy(Method):
        scenarios = frozenset({"class"})
        access = frozenset({"everything"})

        def unlearn(self, model, ctx):
            return model

    with pytest.raises(ValueError, match="unknown access"):
        METHODS.register("greedy_test_only")(Greedy)
    assert "greedy_test_only" not in METHODS
