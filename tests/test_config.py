"""Typed hyperparameter configs: defaults, overrides from strings, and rejected input."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from unlearnbench.core.config import build_config, config_hash, require_positive
from unlearnbench.core.errors import ConfigError
from unlearnbench.models.recipes import default_recipe


@dataclass(frozen=True)
class _Cfg:
    lr: float = 0.1
    steps: int = 10
    flag: bool = False
    name: str = "x"

    def __post_init__(self) -> None:
        require_positive(self, "lr", "steps")


def test_defaults_without_overrides():
    assert build_config(_Cfg) == _Cfg()


def test_cli_strings_are_coerced_to_field_types():
    cfg = build_config(_Cfg, {"lr": "0.5", "steps": "3", "flag": "true", "name": "y"})
    assert cfg == _Cfg(lr=0.5, steps=3, flag=True, name="y")


def test_unknown_key_lists_valid_fields():
    with pytest.raises(ConfigError, match=r"has no parameter lrr; valid: lr, steps, flag, name"):
        build_config(_Cfg, {"lrr": 1})


def test_wrong_type_names_field_and_value():
    with pytest.raises(ConfigError, match=r"steps must be int, got 'many'"):
        build_config(_Cfg, {"steps": "many"})
    with pytest.raises(ConfigError, match=r"lr must be float, got True"):
        build_config(_Cfg, {"lr": True})


def test_out_of_range_is_rejected_at_construction():
    with pytest.raises(ConfigError, match=r"lr must be > 0, got -0.1"):
        build_config(_Cfg, {"lr": -0.1})


def test_config_hash_is_stable_and_sensitive():
    # Known answer: stored rows and cell keys carry this hash, so it must not change across processes or versions.
    assert config_hash(_Cfg()) == "8b7f10bd37d3"
    assert config_hash(_Cfg()) != config_hash(_Cfg(lr=0.2))


def test_recipe_overrides_validate_fields_and_choices():
    assert default_recipe("digits", "mlp", {"epochs": "3"}).epochs == 3
    with pytest.raises(ConfigError, match="valid: epochs"):
        default_recipe("digits", "mlp", {"epoch": "3"})
    with pytest.raises(ConfigError, match="optimizer must be one of sgd, adam"):
        default_recipe("digits", "mlp", {"optimizer": "rmsprop"})
