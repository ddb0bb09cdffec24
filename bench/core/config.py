"""Typed, frozen hyperparameter dataclasses: building from overrides, validation, JSON form."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import typing
from typing import Any, Mapping

from unlearnbench.core.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class NoConfig:
    """Configuration of a method that has no hyperparameters."""


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def coerce_value(owner: str, name: str, kind: Any, value: Any) -> Any:
    """Converts a CLI string to `kind`, or checks a Python value against it."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
            return value.lower() in ("true", "1", "yes")
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
    elif kind is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                pass
        if number is not None:
            if not math.isfinite(number):  # inf passes every `> 0` check and only fails deep inside training
                raise ConfigError(f"{owner}.{name} must be a finite number, got {value!r}")
            return number
    elif kind is str:
        if isinstance(value, str):
            return value
    else:
        return value
    raise ConfigError(f"{owner}.{name} must be {kind.__name__}, got {value!r}")


def build_config(cls: type, overrides: Mapping[str, Any] | None = None, owner: str = "") -> Any:
    """Builds `cls` from defaults plus `overrides`, rejecting unknown keys and wrong types.

    Raises:
        ConfigError: an unknown key, a value of the wrong type, or one `__post_init__` rejects.
    """
    owner = owner or cls.__name__
    types = _field_types(cls)
    valid = [f.name for f in dataclasses.fields(cls)]
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ConfigError(
            f"{owner} has no parameter {', '.join(unknown)}; valid: {', '.join(valid) or '(none)'}"
        )
    values = {k: coerce_value(owner, k, types[k], v) for k, v in overrides.items()}
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{owner}: {exc}") from None


def require_positive(cfg: Any, *names: str) -> None:
    """Raises ConfigError unless every named field of `cfg` is > 0."""
    for name in names:
        value = getattr(cfg, name)
        if not value > 0:
            raise ConfigError(f"{type(cfg).__name__}.{name} must be > 0, got {value!r}")


def require_non_negative(cfg: Any, *names: str) -> None:
    """Raises ConfigError unless every named field of `cfg` is >= 0."""
    for name in names:
        value = getattr(cfg, name)
        if not value >= 0:
            raise ConfigError(f"{type(cfg).__name__}.{name} must be >= 0, got {value!r}")


def require_choice(cfg: Any, name: str, choices: tuple[str, ...]) -> None:
    """Raises ConfigError unless field `name` of `cfg` is one of `choices`."""
    value = getattr(cfg, name)
    if value not in choices:
        raise ConfigError(f"{type(cfg).__name__}.{name} must be one of {', '.join(choices)}; got {value!r}")


@dataclasses.dataclass(frozen=True)
class SGDConfig:
    """The fields of an SGD loop with heavy-ball momentum that many methods share, validated once; a method's Config
    extends it and restates each default with where its authors set it."""

    lr: float = 0.01  # learning rate
    epochs: int = 1  # passes over the method's data
    momentum: float = 0.9  # heavy-ball momentum
    weight_decay: float = 5e-4  # L2 penalty
    batch_size: int = 256  # rows per step

    def __post_init__(self) -> None:
        require_positive(self, "lr", "epochs", "batch_size")
        require_non_negative(self, "momentum", "weight_decay")


def config_dict(cfg: Any) -> dict[str, Any]:
    """The config as a plain JSON-ready dict."""
    return dataclasses.asdict(cfg)


def config_hash(cfg: Any) -> str:
    """A short stable hash of the config's JSON form."""
    text = json.dumps(config_dict(cfg), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
