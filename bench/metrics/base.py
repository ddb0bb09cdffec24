"""The metric registry, the inputs every metric receives, and the loop that runs them."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from torch import Tensor, nn

from unlearnbench.core.registry import Registry
from unlearnbench.core.scenarios import SCENARIOS

BETTER = ("higher", "lower", "closer_to_retrain")
# Column groups, in display order: the headline (gap, seconds, speedup) leads every table.
GROUPS = ("headline", "accuracy", "privacy", "fidelity", "cost")
# headline: ranked on and shown first; primary: shown by default (tables, LaTeX, figures); detail: expands on
# demand; stored: kept in every row (JSON/CSV) and read by notes, never a column.
TIERS = ("headline", "primary", "detail", "stored")
# percent: a fraction shown as %; rate: a fraction shown as 0.xxx; both lie in [0, 1] and are plotted as bars.
UNITS = ("percent", "rate", "seconds", "speedup", "number", "mib")
# Version of what the stored values mean, kept in every row: 1 stored mia_svc as the share called non-member and the
# entropy and SVC attacks' AUCs against retain-test; 2 stores mia_svc as the share of forget-train called member and
# every attack's AUC against held-out samples of the same classes (forget-test).
DEFINITIONS_VERSION = 2
BAR_UNITS = ("percent", "rate")


@dataclass(frozen=True)
class MetricValue:
    """One reported number: its key, label, format, what a good value is, and where it counts."""

    name: str  # key in a row's metrics
    label: str  # column header and figure legend
    help: str  # one-line tooltip
    better: str  # higher, lower, closer_to_retrain
    group: str  # one of GROUPS
    tier: str = "detail"  # one of TIERS
    unit: str = "number"  # one of UNITS
    digits: int = 3
    scenarios: frozenset[str] = frozenset(SCENARIOS)  # scenarios in which the value is defined
    distance_to_retrain: bool = False  # the value itself is a distance to the retrained model (0 is ideal)
    # Enters the tuning objective: computed with the validation split in the test split's place, then averaged as
    # |value - retrained model's value| into val_retrain_gap (metrics/summary.py).
    objective: bool = False

    def __post_init__(self) -> None:
        for field_name, allowed in (("better", BETTER), ("group", GROUPS), ("tier", TIERS), ("unit", UNITS)):
            if getattr(self, field_name) not in allowed:
                raise ValueError(f"metric value {self.name!r}: {field_name} must be one of {', '.join(allowed)}, "
                                 f"got {getattr(self, field_name)!r}")
        if not set(self.scenarios) <= set(SCENARIOS):
            raise ValueError(f"metric value {self.name!r}: unknown scenarios {sorted(set(self.scenarios) - set(SCENARIOS))}")

    def format(self, value: Any) -> str:
        """The value as shown in every rendering ('-' when missing; speedups capped)."""
        if self.unit == "speedup":
            return format_speedup(value)
        if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
            return "-"
        if self.unit == "percent":
            return f"{100 * value:.{self.digits}f}%"
        return f"{value:.{self.digits}f}"

    def distance(self, value: float, reference: Optional[float]) -> float:
        """How far `value` is from the retrained model's (nan where the value is not judged against it)."""
        if self.distance_to_retrain:
            return abs(value)
        if self.better == "closer_to_retrain" and reference is not None:
            return abs(value - reference)
        return math.nan


SPEEDUP_CAP = 1e4  # above this the method's time is ~0 (the untouched original): the ratio says nothing


def format_speedup(value: Any) -> str:
    """A speedup as '12.3x', '>1e4x' past the cap, '-' when missing (one cap for every rendering)."""
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "-"
    return ">1e4x" if value >= SPEEDUP_CAP else f"{value:.1f}x"


class _ValueRegistry:
    """Every reported value in declaration order; the one list that tables, reports and the gap iterate."""

    def __init__(self) -> None:
        self._items: dict[str, MetricValue] = {}

    def add(self, value: MetricValue) -> None:
        """Declares `value`; a second declaration of a name must be identical."""
        if value.name in self._items and self._items[value.name] != value:
            raise ValueError(f"metric value {value.name!r} is already declared differently")
        self._items[value.name] = value

    def remove(self, name: str) -> None:
        """Undeclares `name` (a no-op when it is not declared): for tests that declare a value for a while."""
        self._items.pop(name, None)

    def get(self, name: str) -> Optional[MetricValue]:
        """The declaration of `name`, or None."""
        return self._items.get(name)

    def select(self, tiers: tuple[str, ...] = TIERS, scenario: Optional[str] = None,
               groups: tuple[str, ...] = GROUPS) -> list[MetricValue]:
        """Declared values of the given tiers and groups, defined in `scenario`, grouped in GROUPS order."""
        chosen = [v for v in self._items.values() if v.tier in tiers and v.group in groups
                  and (scenario is None or scenario in v.scenarios)]
        return sorted(chosen, key=lambda v: (GROUPS.index(v.group), TIERS.index(v.tier)))

    def objective_names(self, scenario: Optional[str] = None) -> tuple[str, ...]:
        """The values averaged into the tuning objective, val_retrain_gap (in `scenario`)."""
        return tuple(v.name for v in self.select(scenario=scenario) if v.objective)


VALUES = _ValueRegistry()


def declare(*values: MetricValue) -> tuple[MetricValue, ...]:
    """Declares values that no metric function produces (seconds, summaries); returns them."""
    for value in values:
        VALUES.add(value)
    return values


@dataclass(frozen=True)
class Outputs:
    """Logits and labels of one model on each split (forget/retain x train/test, and test)."""

    splits: dict[str, tuple[Tensor, Tensor]]

    def logits(self, split: str) -> Tensor:
        """Logits on `split`."""
        return self.splits[split][0]

    def labels(self, split: str) -> Tensor:
        """Labels of `split`."""
        return self.splits[split][1]


@dataclass(frozen=True)
class DeepInputs:
    """What the opt-in deep metrics read beyond outputs: split inputs, the feature layer, the original's level."""

    data: dict[str, tuple[Tensor, Tensor]]  # (x, y) of forget_train, retain_train and forget_test
    head_of: Callable[[nn.Module], nn.Module]  # the model family's head: features are its input
    original_forget_acc: float  # the original's forget-train accuracy (what relearning must reach)


@dataclass(frozen=True)
class MetricInputs:
    """What a metric may look at: the model, its outputs, and the retrained reference where there is one."""

    model: nn.Module
    outputs: Outputs
    reference: Optional[nn.Module]
    reference_outputs: Optional[Outputs]
    seed: int  # seeds every subsample and classifier, so a cell's score is reproducible
    shadows: Optional[Any] = None  # ShadowStats of the opt-in per-example attack
    scenario: str = "class"  # the forgetting scenario: values it does not define are never stored
    deep: Optional[DeepInputs] = None  # set when the opt-in deep metrics (--deep-metrics) are asked for


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric: its function and the declared values it produces."""

    name: str
    fn: Callable[[MetricInputs], dict[str, float]]
    needs: tuple[str, ...]
    values: tuple[MetricValue, ...]

    @property
    def produces(self) -> tuple[str, ...]:
        """The keys the function returns."""
        return tuple(v.name for v in self.values)


METRICS: Registry[MetricSpec] = Registry("metric")


def register_metric(name: str, produces: tuple[MetricValue, ...], needs: tuple[str, ...] = ()
                    ) -> Callable[[Callable[[MetricInputs], dict[str, float]]], Callable]:
    """Registers a metric function returning exactly the keys of `produces`, and declares those values."""
    if not produces or not all(isinstance(v, MetricValue) for v in produces):
        raise ValueError(f"metric {name!r}: produces must be a non-empty tuple of MetricValue")

    def decorate(fn: Callable[[MetricInputs], dict[str, float]]) -> Callable:
        METRICS.add(name, MetricSpec(name, fn, tuple(needs), tuple(produces)))
        declare(*produces)
        return fn

    return decorate


def mean_distance(metrics: Mapping[str, float], retrained: Mapping[str, float], names: tuple[str, ...]) -> float:
    """Mean |metrics[k] - retrained[k]| over the names both hold as finite numbers (nan when none)."""
    gaps = [abs(metrics[k] - retrained[k]) for k in names if _finite(metrics.get(k)) and _finite(retrained.get(k))]
    return sum(gaps) / len(gaps) if gaps else math.nan


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def defined_values(values: dict[str, float], scenario: str) -> dict[str, float]:
    """`values` without those the registry declares undefined in `scenario` (not stored rather than stored as 0)."""
    return {k: v for k, v in values.items() if VALUES.get(k) is None or scenario in VALUES.get(k).scenarios}


DEEP_SECONDS = declare(MetricValue(
    "deep_metrics_s", "deep metrics s", "seconds the opt-in deep metrics took on this cell (outside the method's time)",
    better="lower", group="cost", tier="stored", unit="seconds"))[0]


def compute_metrics(inputs: MetricInputs) -> dict[str, float]:
    """Runs every registered metric whose needs are met; returns name -> value for the values defined in the
    inputs' scenario (and, with deep metrics, the seconds they took)."""
    out: dict[str, float] = {}
    deep_seconds = 0.0
    for name in METRICS.names():
        spec = METRICS.get(name)
        if (("retrained" in spec.needs and inputs.reference is None)
                or ("shadows" in spec.needs and inputs.shadows is None)
                or ("deep" in spec.needs and inputs.deep is None)):
            continue
        t0 = time.perf_counter()
        values = spec.fn(inputs)
        if "deep" in spec.needs:
            deep_seconds += time.perf_counter() - t0
        if set(values) != set(spec.produces):
            raise RuntimeError(f"metric {name!r} returned {sorted(values)}, declared {sorted(spec.produces)}")
        out.update(defined_values(values, inputs.scenario))
    if inputs.deep is not None:
        out[DEEP_SECONDS.name] = deep_seconds
    return out
