"""Imports between sub-packages go one way (unlearnbench.devtools.layers)."""
from __future__ import annotations

import ast

from unlearnbench.devtools.layers import ALLOWED, _runtime_imports, allowed, violations


def test_the_package_keeps_its_import_directions():
    assert [str(v) for v in violations()] == []


def test_reports_may_not_import_execution_or_tuning():
    assert not allowed("reports", "execution.runner")
    assert not allowed("reports", "tuning.tune")
    assert allowed("reports", "metrics.base")


def test_metrics_may_use_inference_but_not_the_training_loop():
    assert allowed("metrics", "models.inference")
    assert not allowed("metrics", "models.training")


def test_methods_see_the_context_but_not_the_rest_of_execution():
    assert allowed("methods", "execution.context")
    assert not allowed("methods", "execution.runner")


def test_an_import_for_type_hints_only_is_not_a_dependency():
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from unlearnbench.execution.runner import X\n"
                     "from unlearnbench.core.errors import UserError\n")
    assert list(_runtime_imports(tree)) == [(4, "core.errors")]


def test_no_layer_allows_one_above_it():
    order = list(ALLOWED)
    for layer, rules in ALLOWED.items():
        for rule in rules:
            assert order.index(rule.split(".")[0]) < order.index(layer), f"{layer} may import {rule}, listed after it"
