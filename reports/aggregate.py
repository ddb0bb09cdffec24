"""Stored rows grouped into settings and methods, with mean and 95 % t-interval over seeds."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np

from unlearnbench.forget import SCENARIOS, ForgetSpec
from unlearnbench.method import SEES_FORGET, role_of, supports
from unlearnbench.reports.provenance import speedup_reused

CONFIDENCE = 0.95
ROLE_ORDER = ("original", "reference", "floor", "method")  # the before/after reference rows lead every table
TUNED_MARK = "tuned parameters"  # the title mark of a setting whose methods ran with `unlearnbench tune`'s parameters
PER_CELL_ENV = ("load", "reused_measurements", "retrain_seconds_reused_from")  # not part of a setting's environment


@dataclass(frozen=True)
class Stat:
    """Mean of a metric over seeds and the half-width of its 95 % t-interval (nan with one seed)."""

    mean: float
    half_width: float
    n: int


def mean_ci(values: Sequence[float]) -> Stat:
    """Mean and 95 % t-interval half-width of the finite values."""
    finite = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if len(finite) == 0:
        return Stat(math.nan, math.nan, 0)
    if len(finite) == 1:
        return Stat(float(finite[0]), math.nan, 1)
    from scipy import stats  # SciPy loads when an interval is first needed, not at start-up

    sem = finite.std(ddof=1) / math.sqrt(len(finite))
    return Stat(float(finite.mean()), float(stats.t.ppf(0.5 + CONFIDENCE / 2, len(finite) - 1) * sem), len(finite))


@dataclass
class MethodResult:
    """One method (with one set of hyperparameters) in one setting, over its seeds."""

    label: str
    method: str
    params: dict[str, Any]
    access: list[str]
    seeds: list[int]
    metrics: dict[str, Stat]  # every stored metric, plus time_s and peak_mem (MiB) from the row
    phases: dict[str, Stat]  # in the order the method ran them
    role: str = "method"  # the method's declared role: method, original or reference
    reused_phases: list[str] = field(default_factory=list)  # phases with seconds from an earlier run in any seed
    speedup_reused: bool = False  # some seed's speedup divides by retrain seconds from an earlier run
    tuned: Optional[dict[str, Any]] = None  # provenance of tuned parameters (unlearnbench tune), None: defaults

    @property
    def time(self) -> Stat:
        """Seconds of unlearn() over seeds."""
        return self.metrics["time_s"]

    @property
    def is_reference(self) -> bool:
        """True for the original and retrained rows: shown apart, never ranked."""
        return self.role != "method"

    @property
    def time_reused(self) -> bool:
        """True when some seed's seconds were measured in an earlier run."""
        return bool(self.reused_phases)

    @property
    def zero_glance(self) -> bool:
        """True when the method never saw forget samples."""
        return not (SEES_FORGET & set(self.access))


@dataclass
class SettingResult:
    """Every method run on one (dataset, model, forget classes, recipe)."""

    dataset: str
    model: str
    forget: list[int]
    recipe: dict[str, Any]
    methods: list[MethodResult] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    envs: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)  # the ok rows aggregated here, newest per cell
    not_applicable: list[str] = field(default_factory=list)  # methods stored elsewhere that this scenario does not suit
    # Methods run with tuned parameters form a setting of their own (the reference rows shown in both), so tuned
    # and default methods are never ranked together.
    tuned: bool = False

    @property
    def identity(self) -> tuple:
        """(dataset, model, forget, recipe): the setting ranked apart with default and with tuned parameters."""
        return setting_key(self.dataset, self.model, self.forget, self.recipe)

    @property
    def spec(self) -> ForgetSpec:
        """What this setting forgets."""
        return ForgetSpec.from_stored(self.forget)

    @property
    def title(self) -> str:
        """e.g. 'mnist / mlp, forget {0, 2}' or 'mnist / mlp, forget random:0.1', plus a non-default train subset."""
        subset = f", train subset {self.recipe['train_subset']}" if self.recipe.get("train_subset") else ""
        tuned = f", {TUNED_MARK}" if self.tuned else ""
        return f"{self.dataset} / {self.model}, forget {self.spec.title}{subset}{tuned}"

    @property
    def scenario(self) -> str:
        """The forgetting scenario: class, partial, random or subclass."""
        return self.spec.scenario

    @property
    def reference(self) -> MethodResult | None:
        """The retrained model's row, when one was run."""
        return next((m for m in self.methods if m.role == "reference"), None)

    @property
    def seeds(self) -> list[int]:
        """Every seed seen in this setting."""
        return sorted({s for m in self.methods for s in m.seeds})


def setting_key(dataset: str, model: str, forget: Sequence[Any], recipe: dict[str, Any]) -> tuple:
    """The identity rows of one setting share (the recipe as canonical JSON)."""
    return dataset, model, tuple(forget), json.dumps(recipe, sort_keys=True)


def _latest_per_cell(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keeps the newest row of each (setting, method, params, seed): a rerun replaces, never double-counts."""
    latest: dict[tuple, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r.get("id") or 0):
        key = (*setting_key(row["dataset"], row["model"], row["forget"], row["recipe"]), row["method"],
               row["params_hash"], row["seed"], (row.get("tuned") or {}).get("sha"))
        latest[key] = row
    return list(latest.values())


def _first_seen(dicts: Sequence[dict[str, Any]]) -> list[str]:
    """Every key of `dicts`, in the order first seen (a method's own phase order)."""
    return list(dict.fromkeys(k for d in dicts for k in d))


def _row_values(row: dict[str, Any]) -> dict[str, Any]:
    """A row's metrics plus its seconds and peak memory (MiB), so all aggregate alike."""
    extra = {"time_s": row.get("time_s")}
    if row.get("peak_mem_bytes"):
        extra["peak_mem"] = row["peak_mem_bytes"] / 2**20
    return {**row["metrics"], **extra}


def _method_result(rows: list[dict[str, Any]], label: str, role: str) -> MethodResult:
    values = [_row_values(r) for r in rows]
    names = sorted({k for v in values for k in v})
    return MethodResult(
        label=label, method=rows[0]["method"], params=rows[0]["params"], access=rows[0]["access"],
        seeds=sorted(r["seed"] for r in rows), role=role,
        metrics={n: mean_ci([v.get(n) for v in values]) for n in names},
        phases={p: mean_ci([r["phases"].get(p) for r in rows]) for p in _first_seen([r["phases"] for r in rows])},
        reused_phases=sorted({p for r in rows for p in r.get("reused_phases") or []}),
        speedup_reused=any(speedup_reused(r) for r in rows), tuned=rows[0].get("tuned"),
    )


def aggregate(rows: Sequence[dict[str, Any]]) -> list[SettingResult]:
    """Groups rows by setting, then by (method, params); failed cells are listed, never averaged."""
    settings: dict[tuple, SettingResult] = {}
    cells: dict[tuple, dict[tuple, list[dict[str, Any]]]] = {}
    for row in _latest_per_cell(rows):
        key = (*setting_key(row["dataset"], row["model"], row["forget"], row["recipe"]), bool(row.get("tuned")))
        setting = settings.setdefault(key, SettingResult(row["dataset"], row["model"], list(row["forget"]),
                                                         row["recipe"], tuned=key[-1]))
        env = {k: v for k, v in (row.get("env") or {}).items() if k not in PER_CELL_ENV}
        if env and env not in setting.envs:
            setting.envs.append(env)
        if row["status"] != "ok":
            setting.failed.append(row)
            continue
        setting.rows.append(row)
        cells.setdefault(key, {}).setdefault((row["method"], row["params_hash"]), []).append(row)
    for key, setting in settings.items():  # a tuned setting shows its default twin's original and retrained rows
        twin = cells.get(key[:-1] + (False,), {}) if setting.tuned else {}
        for (method, params_hash), group in twin.items():
            if role_of(method) != "method":
                cells.setdefault(key, {})[(method, params_hash)] = group
                setting.rows.extend(group)
    for key in [k for k, s in settings.items() if not s.tuned and k[:-1] + (True,) in settings]:
        if not settings[key].failed and all(role_of(m) != "method" for m, _ in cells.get(key, {})):
            del settings[key]  # only the references a tuned run brought along: they are shown with it
    seen = sorted({row["method"] for row in rows})
    for key, setting in settings.items():
        setting.not_applicable = [m for m in seen if not supports(m, setting.scenario)]
        groups = cells.get(key, {})
        roles = {method: role_of(method) for method, _ in groups}
        order = sorted(groups.items(), key=lambda kv: (ROLE_ORDER.index(roles[kv[0][0]]), kv[0]))
        for (method, params_hash), group in order:
            twins = sum(1 for m, _ in groups if m == method)
            label = method if twins == 1 else f"{method} [{params_hash[:6]}]"
            setting.methods.append(_method_result(group, label, roles[method]))
    return sorted(settings.values(), key=lambda s: (s.dataset, s.model, SCENARIOS.index(s.scenario), s.spec.label,
                                                   json.dumps(s.recipe), s.tuned))
