"""Search spaces of the equal-budget tuner: ranges and choices of Config fields, declared beside each Config."""
from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any, Mapping, Sequence, Union

from unlearnbench.core.config import coerce_value, build_config
from unlearnbench.core.errors import ConfigError, UserError


@dataclass(frozen=True)
class Range:
    """A numeric range of one Config field, inclusive: uniform, or log-uniform with log=True; ints for int fields."""

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class Choice:
    """A finite set of values of one Config field."""

    values: tuple[Any, ...]


@dataclass(frozen=True)
class EpochShare:
    """Epochs from 1 to `share` of the original model's training epochs (at least 1)."""

    share: float = 0.2


Dimension = Union[Range, Choice, EpochShare]
# DeepUnlearn's defaults (xcadet/deepunlearn@6830ff6 munl/hpsearch): learning rates in [1e-5, 1e-1] log-uniform,
# epochs at most 20 % of the original's training epochs. A method's own fields get ranges around its paper's values.
LEARNING_RATE = Range(1e-5, 1e-1, log=True)
EPOCHS = EpochShare(0.2)


def resolve(space: Mapping[str, Dimension], recipe_epochs: int) -> dict[str, Union[Range, Choice]]:
    """The space with epoch shares turned into integer ranges for a recipe of `recipe_epochs` epochs."""
    out: dict[str, Union[Range, Choice]] = {}
    for name, dim in space.items():
        if isinstance(dim, EpochShare):
            high = max(1, round(dim.share * recipe_epochs))
            out[name] = Range(1, high) if high > 1 else Choice((1,))
        else:
            out[name] = dim
    return out


def check_space(cls: type, space: Mapping[str, Dimension], owner: str, model: str = "", dataset: str = "",
                scenario: str = "") -> dict[str, Dimension]:
    """Validates a method's space against its Config like `--set` values; returns it with values coerced.

    Raises:
        ConfigError: an unknown field, an empty or inverted range, a log range reaching 0, an empty choice, or an
            endpoint or choice the Config rejects.
    """
    types = typing.get_type_hints(cls.Config)
    valid = [f.name for f in dataclasses.fields(cls.Config)]
    base = cls.paper_defaults(model, dataset, scenario)
    out: dict[str, Dimension] = {}
    for name, dim in space.items():
        where = f"{owner}.{name}"
        if name not in valid:
            raise ConfigError(f"{owner} has no parameter {name} to tune; valid: {', '.join(valid) or '(none)'}")
        kind = types[name]
        if isinstance(dim, EpochShare):
            if kind is not int or not 0 < dim.share <= 1:
                raise ConfigError(f"{where}: an epoch share needs an int field and a share in (0, 1], got {dim}")
            out[name] = dim
            continue
        if isinstance(dim, Range):
            if kind not in (int, float):
                raise ConfigError(f"{where} is {kind.__name__}: a range needs an int or float field; use a choice")
            low, high = (coerce_value(owner, name, kind, v) for v in (dim.low, dim.high))
            if not low < high:
                raise ConfigError(f"{where}: the range {dim.low:g}..{dim.high:g} is empty or inverted; give LOW < HIGH")
            if dim.log and low <= 0:
                raise ConfigError(f"{where}: a log range must lie above 0, got {dim.low:g}..{dim.high:g}")
            dim, values = Range(low, high, dim.log), (low, high)
        else:
            if not dim.values:
                raise ConfigError(f"{where}: the choice is empty; give at least one value")
            values = tuple(coerce_value(owner, name, kind, v) for v in dim.values)
            dim = Choice(values)
        for value in values:  # every endpoint or choice must make a Config the method accepts
            build_config(cls.Config, {**base, name: value}, owner=owner)
        out[name] = dim
    return out


def parse_dimension(text: str, flag: str) -> Dimension:
    """'LOW:HIGH', 'LOW:HIGH:log', 'A|B|C' (a choice) or 'share:0.2' (epochs) -> a Dimension."""
    if "|" in text:
        return Choice(tuple(v.strip() for v in text.split("|")))
    parts = [p.strip() for p in text.split(":")]
    try:
        if len(parts) == 2 and parts[0] == "share":
            return EpochShare(float(parts[1]))
        if len(parts) in (2, 3) and (len(parts) == 2 or parts[2] == "log"):
            low, high = float(parts[0]), float(parts[1])
            if math.isfinite(low) and math.isfinite(high):
                return Range(low, high, log=len(parts) == 3)
    except ValueError:
        pass
    raise UserError(f"{flag} {text!r} is malformed: use LOW:HIGH, LOW:HIGH:log, A|B|C or share:0.2")


def parse_spaces(items: Sequence[str]) -> dict[str, dict[str, Dimension]]:
    """--space METHOD.FIELD=SPEC values -> method -> field -> Dimension."""
    spaces: dict[str, dict[str, Dimension]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        method, dot, field = key.strip().partition(".")
        if not sep or not dot or not method or not field:
            raise UserError(f"--space {item!r} is malformed: use METHOD.FIELD=LOW:HIGH[:log], e.g. "
                            "unsir.impair_lr=1e-4:1e-1:log")
        spaces.setdefault(method, {})[field] = parse_dimension(value.strip(), f"--space {key}=")
    return spaces


EDGE_SHARE = 0.02  # a tuned value this close to an end of its range (in log scale for log ranges) sits on the edge


def at_edge(space: Mapping[str, Union[Range, Choice]], params: Mapping[str, Any]) -> dict[str, str]:
    """field -> 'low' or 'high' for each tuned value at an end of its range: better values may lie outside it."""
    out: dict[str, str] = {}
    for name, dim in space.items():
        value = params.get(name)
        if not isinstance(dim, Range) or not isinstance(value, (int, float)):
            continue
        scale = math.log if dim.log else float
        share = (scale(value) - scale(dim.low)) / (scale(dim.high) - scale(dim.low))
        if share <= EDGE_SHARE:
            out[name] = "low"
        elif share >= 1 - EDGE_SHARE:
            out[name] = "high"
    return out


def describe(dim: Union[Range, Choice]) -> str:
    """A dimension as shown in tables, e.g. '1e-05..0.1 log' or '{0.1, 0.5}'."""
    if isinstance(dim, Choice):
        return "{" + ", ".join(str(v) for v in dim.values) + "}"
    return f"{dim.low:g}..{dim.high:g}" + (" log" if dim.log else "")
