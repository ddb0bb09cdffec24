"""Yardsticks: how a model's stored values become its distance to the retrained model, per concern.

A yardstick declares, per forgetting scenario, which stored values enter which part; each part is the mean
|value - retrained model's value| over its members, and the composite is the mean of the parts, so every part
weighs the same however many values it has. Rows keep the raw values; reports compute every gap at render time
with the yardstick asked for, so a stored number never outlives its definition.

- `concerns` (default): forgetting, utility and privacy scored apart (issue 25). Each quantity enters once: in
  class forgetting the whole-test accuracy is left out (it mixes forget-test and retain-test, both already in);
  privacy takes each attack's AUC of forget-train against held-out samples of the same classes (like with like,
  bounded, and far less noisy across seeds than a thresholded member share).
- `salun`: SalUn's "Avg. Gap" (Fan et al., ICLR 2024, arXiv 2310.12508), the mean of |UA|, |RA|, |TA| and
  |MIA-efficacy| differences: UA = 1 - forget-train accuracy, RA = retain-train accuracy, TA = test accuracy
  (class-wise: the test split without the forgotten classes, as Unlearn-Sparse's dataset.py), MIA-efficacy = 1 - the
  SVC attack's member share. Absolute differences of 1 - x equal those of x, so the stored values serve directly.
  Fractions here; SalUn prints percentage points (x 100).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from unlearnbench.core.defaults import DEFAULT_YARDSTICK
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.metrics.base import MetricValue, declare, mean_distance

ATTACK_AUCS = ("mia_loss_auc", "mia_entropy_auc", "mia_svc_auc")


def _per_scenario(**by_group: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """{scenario: members} from keyword groups: whole (class, subclass), partial, random."""
    groups = {"class": "whole", "subclass": "whole", "partial": "partial", "random": "random"}
    return {scenario: by_group[groups[scenario]] for scenario in SCENARIOS}


@dataclass(frozen=True)
class Yardstick:
    """A named, versioned definition of the distance to the retrained model: parts and their members."""

    name: str
    version: int
    composite: str  # the value ranked on
    title: str
    parts: Mapping[str, Mapping[str, tuple[str, ...]]]  # part value name -> scenario -> member value names

    @property
    def label(self) -> str:
        """e.g. 'concerns v2': the definition a rendering names."""
        return f"{self.name} v{self.version}"

    @property
    def values(self) -> tuple[str, ...]:
        """The composite and its parts, in display order."""
        return (self.composite, *self.parts)

    def members(self, scenario: str) -> dict[str, tuple[str, ...]]:
        """Part -> the stored values it averages in `scenario`."""
        return {part: by_scenario[scenario] for part, by_scenario in self.parts.items()}

    def score(self, values: Mapping[str, float], retrained: Mapping[str, float], scenario: str) -> dict[str, float]:
        """Each part's mean |value - retrained value| and the composite (nan where a part has no finite member)."""
        out = {part: mean_distance(values, retrained, names) for part, names in self.members(scenario).items()}
        parts = list(out.values())
        out[self.composite] = sum(parts) / len(parts) if all(math.isfinite(p) for p in parts) else math.nan
        return out


def _gap_value(name: str, label: str, help: str) -> MetricValue:
    return MetricValue(name, label, help, better="lower", group="headline", tier="headline", unit="rate", digits=4,
                       distance_to_retrain=True)


CONCERNS = Yardstick(
    name=DEFAULT_YARDSTICK, version=2, composite="retrain_gap", title="retrain gap by concern",
    parts={
        "gap_forget": _per_scenario(whole=("acc_forget_train", "acc_forget_test"),
                                    partial=("acc_forget_train", "acc_forget_test"), random=("acc_forget_train",)),
        "gap_utility": _per_scenario(whole=("acc_retain_test", "acc_retain_train"),
                                     partial=("acc_retain_test", "acc_retain_train"),
                                     random=("acc_test", "acc_retain_train")),
        "gap_privacy": _per_scenario(whole=ATTACK_AUCS, partial=ATTACK_AUCS, random=ATTACK_AUCS),
    })

SALUN = Yardstick(
    name="salun", version=1, composite="salun_avg_gap", title="SalUn Avg. Gap",
    parts={
        "salun_gap_ua": _per_scenario(whole=("acc_forget_train",), partial=("acc_forget_train",),
                                      random=("acc_forget_train",)),
        "salun_gap_ra": _per_scenario(whole=("acc_retain_train",), partial=("acc_retain_train",),
                                      random=("acc_retain_train",)),
        "salun_gap_ta": _per_scenario(whole=("acc_retain_test",), partial=("acc_test",), random=("acc_test",)),
        "salun_gap_mia": _per_scenario(whole=("mia_svc",), partial=("mia_svc",), random=("mia_svc",)),
    })

YARDSTICKS: dict[str, Yardstick] = {y.name: y for y in (CONCERNS, SALUN)}

declare(
    _gap_value("retrain_gap", "retrain gap", "mean of the forgetting, utility and privacy gaps to the retrained model "
               "(concerns v2; each concern weighs the same); 0 is the retrained model"),
    _gap_value("gap_forget", "forget gap", "forgetting: mean |difference| to the retrained model of forget-train "
               "accuracy and, where whole or partial classes are forgotten, forget-test accuracy"),
    _gap_value("gap_utility", "utility gap", "utility: mean |difference| to the retrained model of retain-train and "
               "retain-test accuracy (random forgetting: test accuracy)"),
    _gap_value("gap_privacy", "privacy gap", "privacy: mean |difference| to the retrained model of the loss, entropy "
               "and confidence-SVC attacks' AUC of forget-train against held-out samples of the same classes"),
    _gap_value("salun_avg_gap", "Avg. Gap (SalUn)", "SalUn's Avg. Gap: mean of the UA, RA, TA and MIA-efficacy "
               "gaps to the retrained model (fractions; x100 for SalUn's points)"),
    _gap_value("salun_gap_ua", "UA gap", "|UA - UA of retrain|, UA = 1 - forget-train accuracy"),
    _gap_value("salun_gap_ra", "RA gap", "|RA - RA of retrain|, RA = retain-train accuracy"),
    _gap_value("salun_gap_ta", "TA gap", "|TA - TA of retrain|, TA = test accuracy (class-wise: without the "
               "forgotten classes)"),
    _gap_value("salun_gap_mia", "MIA-efficacy gap", "|MIA-efficacy - MIA-efficacy of retrain|, MIA-efficacy = 1 - "
               "the SVC attack's member share"),
)


def yardstick(name: str) -> Yardstick:
    """The yardstick called `name`; ValueError naming the known ones otherwise."""
    if name not in YARDSTICKS:
        raise ValueError(f"unknown gap definition {name!r}: use one of {', '.join(YARDSTICKS)}")
    return YARDSTICKS[name]


def membership_table() -> str:
    """The Markdown table of which stored values enter which part in which scenario (docs/metrics.md shows it)."""
    lines = ["| definition | part | class, subclass | partial | random |", "|---|---|---|---|---|"]
    for y in YARDSTICKS.values():
        for part, by_scenario in y.parts.items():
            cells = [", ".join(f"`{n}`" for n in by_scenario[s]) for s in ("class", "partial", "random")]
            lines.append(f"| {y.label} | `{part}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)
