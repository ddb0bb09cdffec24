"""The metric registry, the inputs every metric receives, and the loop that runs them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from torch import Tensor, nn

from unlearnbench.registry import Registry

BETTER = ("higher", "lower", "closer_to_retrain")


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
class MetricInputs:
    """What a metric may look at: the model, its outputs, and the retrained reference where there is one."""

    model: nn.Module
    outputs: Outputs
    reference: Optional[nn.Module]
    reference_outputs: Optional[Outputs]
    seed: int  # seeds every subsample and classifier, so a cell's score is reproducible
    shadows: Optional[Any] = None  # ShadowStats of the opt-in per-example attack


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric: its function, the values it produces and what a good value is."""

    name: str
    fn: Callable[[MetricInputs], dict[str, float]]
    better: str
    needs: tuple[str, ...]
    produces: tuple[str, ...]


METRICS: Registry[MetricSpec] = Registry("metric")


def register_metric(name: str, better: str, produces: tuple[str, ...], needs: tuple[str, ...] = ()
                    ) -> Callable[[Callable[[MetricInputs], dict[str, float]]], Callable]:
    """Registers a metric function that returns a dict with exactly the keys in `produces`."""
    if better not in BETTER:
        raise ValueError(f"metric {name!r}: better must be one of {', '.join(BETTER)}, got {better!r}")

    def decorate(fn: Callable[[MetricInputs], dict[str, float]]) -> Callable:
        METRICS.add(name, MetricSpec(name, fn, better, tuple(needs), tuple(produces)))
        return fn

    return decorate


def compute_metrics(inputs: MetricInputs) -> dict[str, float]:
    """Runs every registered metric whose needs are met; returns name -> value."""
    out: dict[str, float] = {}
    for name in METRICS.names():
        spec = METRICS.get(name)
        if ("retrained" in spec.needs and inputs.reference is None) or ("shadows" in spec.needs
                                                                         and inputs.shadows is None):
            continue
        values = spec.fn(inputs)
        if set(values) != set(spec.produces):
            raise RuntimeError(f"metric {name!r} returned {sorted(values)}, declared {sorted(spec.produces)}")
        out.update(values)
    return out
