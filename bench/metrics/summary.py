"""Per-cell summaries against the retrained reference: speedup, the tuning objective, and whether each MIA has
signal. The retrain gap is not stored: reports compute it from the raw values (metrics/yardstick.py)."""
from __future__ import annotations

import math
from typing import Optional

from unlearnbench.metrics.base import VALUES, MetricValue, declare

MIA_NAMES = ("mia_entropy", "mia_svc", "mia_loss")
SIGNAL_ATTACKS = (*MIA_NAMES, "lira")  # every attack whose <name>_signal is stored
TUNING_OBJECTIVE = "val_retrain_gap"  # the value `unlearnbench tune` minimises (declared below)
SIGNAL_THRESHOLD = 0.05  # |AUC(original) - AUC(retrained)| below this: the attack cannot tell them apart here

# The values no metric function computes: the cost, the tuning objective and the per-setting signals.
declare(
    MetricValue("time_s", "seconds", "seconds of unlearn(), device-synchronised", better="lower", group="headline",
                tier="headline", unit="seconds", digits=3),
    MetricValue("speedup_vs_retrain", "speedup", "retrain seconds / method seconds", better="higher",
                group="headline", tier="headline", unit="speedup"),
    MetricValue("peak_mem", "peak MiB", "peak device memory (CPU: peak RSS of the process)", better="lower",
                group="cost", unit="mib", digits=0),
    MetricValue(TUNING_OBJECTIVE, "val retrain gap", "the tuning objective: mean |difference| to the retrained "
                "model over the values marked objective (forget/retain/whole accuracy of the validation split, "
                "forget-train accuracy, the three MIA scores with validation samples as non-members); test data "
                "never enters it", better="lower", group="headline", tier="stored", unit="rate", digits=4,
                distance_to_retrain=True),
    *(MetricValue(f"{attack}_signal", f"{attack} signal", f"|AUC original - AUC retrain| of {attack} in this setting "
                  "(forget-train against held-out samples of the same classes)",
                  better="higher", group="privacy", tier="stored") for attack in SIGNAL_ATTACKS),
)


def objective_metrics(scenario: str = "class") -> tuple[str, ...]:
    """The values the tuning objective (val_retrain_gap) averages in `scenario` (declared with objective=True)."""
    return VALUES.objective_names(scenario)


def setting_summary(original: dict[str, float], retrained: dict[str, float]) -> dict[str, float]:
    """Per-MIA separation of the original and retrained models: <mia>_signal = |AUC difference|."""
    out = {f"{m}_signal": abs(original[f"{m}_auc"] - retrained[f"{m}_auc"]) for m in MIA_NAMES}
    if "lira_auc" in original and "lira_auc" in retrained:
        out["lira_signal"] = abs(original["lira_auc"] - retrained["lira_auc"])
    return out


def summary_metrics(time_s: Optional[float], retrain_seconds: float) -> dict[str, float]:
    """speedup_vs_retrain of one cell (retrain seconds / method seconds)."""
    return {"speedup_vs_retrain": retrain_seconds / time_s if time_s else math.inf}


def signal_note(attack: str, where: str, separation: float) -> str | None:
    """The warning shown when an attack cannot separate the original from the retrained model, else None."""
    if not math.isfinite(separation) or separation >= SIGNAL_THRESHOLD:
        return None
    return (f"{attack}: no signal in {where} (|AUC original - AUC retrain| = {separation:.3f} < {SIGNAL_THRESHOLD}); "
            "its scores here are noise, not evidence")
