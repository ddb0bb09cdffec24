"""Stored rows grouped into settings and methods, with mean and 95 % interval over seeds."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from unlearnbench.core.method import SEES_FORGET
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.data.forget import ForgetSpec
from unlearnbench.metrics import DEFAULT_YARDSTICK, DEFINITIONS_VERSION, Yardstick, yardstick
from unlearnbench.reports.gaps import (bounds_of, device_kind, identity, row_definitions, row_role, row_supports,
                                       setting_key, with_gaps)
from unlearnbench.reports.provenance import speedup_reused
from unlearnbench.reports.statistics import t_interval

CONFIDENCE = 0.95
ROLE_ORDER = ("original", "reference", "floor", "method")  # the reference rows lead every table
TUNED_MARK = "tuned parameters"  # the title mark of a setting whose methods ran with `unlearnbench tune`'s parameters
# Not part of a setting's environment: measured per cell.
PER_CELL_ENV = ("load", "reused_measurements", "retrain_seconds_reused_from", "cell_threads")
INTERVAL_NOTE = ("95 % t-interval over seeds, clipped to [0, 1] for bounded values (accuracies, attack rates and "
                 "AUCs, gaps); speedups are ratios of mean seconds")


@dataclass(frozen=True)
class Stat:
    """Mean of a value over seeds and its 95 % interval [lo, hi] (nan with one seed)."""

    mean: float
    lo: float
    hi: float
    n: int

    @property
    def half_width(self) -> float:
        """The larger distance from the mean to an end of the interval (nan with one seed)."""
        return max(self.mean - self.lo, self.hi - self.mean) if math.isfinite(self.lo) else math.nan

    @property
    def clipped(self) -> bool:
        """True when a bound cut the interval, so it is not mean ± half-width."""
        return math.isfinite(self.lo) and not math.isclose(self.mean - self.lo, self.hi - self.mean,
                                                           rel_tol=1e-9, abs_tol=1e-12)


def mean_ci(values: Sequence[float], bounds: Optional[tuple[float, float]] = None) -> Stat:
    """Mean and 95 % t-interval of the finite values, clipped to `bounds` for a bounded value."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    mean, lo, hi = t_interval(finite, bounds, CONFIDENCE)
    return Stat(mean, lo, hi, len(finite))


@dataclass
class MethodResult:
    """One method (one version, one set of hyperparameters) in one setting, over its seeds."""

    label: str
    method: str
    params: dict[str, Any]
    access: list[str]
    seeds: list[int]  # the seeds whose cell is ok
    metrics: dict[str, Stat]  # every stored metric, plus time_s and peak_mem (MiB) from the row
    phases: dict[str, Stat]  # in the order the method ran them
    role: str = "method"  # the method's declared role when it ran: method, original, reference or floor
    reused_phases: list[str] = field(default_factory=list)  # phases with seconds from an earlier run in any seed
    speedup_reused: bool = False  # some seed's speedup divides by retrain seconds from an earlier run
    tuned: Optional[dict[str, Any]] = None  # provenance of tuned parameters (unlearnbench tune), None: defaults
    version: int = 1
    attempted: list[int] = field(default_factory=list)  # every seed with a stored cell, ok or failed
    per_seed: dict[str, dict[int, float]] = field(default_factory=dict)  # value -> seed -> value (ok cells)
    defaults: str = ""  # what its hyperparameters came from: shipped-tuned, paper, tuned, mixed; "" before recorded

    @property
    def defaults_text(self) -> str:
        """The defaults column: "-" for rows stored before defaults were recorded."""
        return self.defaults or "-"

    @property
    def time(self) -> Stat:
        """Seconds of unlearn() over seeds (nan when no seed succeeded)."""
        return self.metrics.get("time_s", Stat(math.nan, math.nan, math.nan, 0))

    @property
    def is_reference(self) -> bool:
        """True for the retrained row every value is compared with: shown apart, never ranked."""
        return self.role == "reference"

    @property
    def time_reused(self) -> bool:
        """True when some seed's seconds were measured in an earlier run."""
        return bool(self.reused_phases)

    @property
    def zero_glance(self) -> bool:
        """True when the method never saw forget samples."""
        return not (SEES_FORGET & set(self.access))

    @property
    def ok_text(self) -> str:
        """'ok k/n': seeds whose cell succeeded of those stored."""
        return f"ok {len(self.seeds)}/{len(self.attempted)}"

    @property
    def complete(self) -> bool:
        """True when no stored seed failed."""
        return len(self.seeds) == len(self.attempted)


@dataclass
class SettingResult:
    """Every method run on one (dataset, model, forget spec, recipe, device kind, definitions version)."""

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
    device: str = "cpu"
    definitions: int = DEFINITIONS_VERSION
    gap: Yardstick = field(default_factory=lambda: yardstick(DEFAULT_YARDSTICK))

    @property
    def identity(self) -> tuple:
        """The setting ranked apart with default and with tuned parameters."""
        return identity(self.dataset, self.model, self.forget, self.recipe, self.device, self.definitions)

    @property
    def spec(self) -> ForgetSpec:
        """What this setting forgets."""
        return ForgetSpec.from_stored(self.forget)

    @property
    def title(self) -> str:
        """e.g. 'mnist / mlp, forget {0, 2}', plus a non-default train subset, a GPU, old definitions, tuning."""
        subset = f", train subset {self.recipe['train_subset']}" if self.recipe.get("train_subset") else ""
        device = f" [{self.device}]" if self.device not in ("cpu", "") else ""
        old = f", metric definitions v{self.definitions}" if self.definitions != DEFINITIONS_VERSION else ""
        tuned = f", {TUNED_MARK}" if self.tuned else ""
        return f"{self.dataset} / {self.model}, forget {self.spec.title}{subset}{device}{old}{tuned}"

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
        return sorted({s for m in self.methods for s in m.attempted})


def _latest_per_cell(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keeps the newest row of each (setting, method, version, params, seed): a rerun replaces, never double-counts."""
    latest: dict[tuple, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r.get("id") or 0):
        key = (*setting_key(row), row["method"], row.get("method_version"), row["params_hash"], row["seed"],
               (row.get("tuned") or {}).get("sha"))
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


def _method_result(rows: list[dict[str, Any]], failed: list[dict[str, Any]], label: str) -> MethodResult:
    values = [_row_values(r) for r in rows]
    names = sorted({k for v in values for k in v})
    per_seed = {n: {r["seed"]: v[n] for r, v in zip(rows, values) if isinstance(v.get(n), (int, float))}
                for n in names}
    first = (rows or failed)[0]
    return MethodResult(
        label=label, method=first["method"], params=first["params"], access=first["access"],
        seeds=sorted(r["seed"] for r in rows), role=row_role(first),
        metrics={n: mean_ci([v.get(n) for v in values], bounds_of(n)) for n in names},
        phases={p: mean_ci([r["phases"].get(p) for r in rows]) for p in _first_seen([r["phases"] for r in rows])},
        reused_phases=sorted({p for r in rows for p in r.get("reused_phases") or []}),
        speedup_reused=any(speedup_reused(r) for r in rows), tuned=first.get("tuned"),
        version=first.get("method_version") or 1, attempted=sorted({r["seed"] for r in rows + failed}),
        per_seed=per_seed, defaults=defaults_label(rows or failed),
    )


def defaults_label(rows: Sequence[dict[str, Any]]) -> str:
    """What a method's rows ran with: "tuned" (a --params file), else the one `defaults` they stored
    ("shipped-tuned" or "paper"), "mixed" across seeds, "" where no row recorded it."""
    if any(r.get("tuned") for r in rows):
        return "tuned"
    found = {r.get("defaults") for r in rows} - {None}
    return found.pop() if len(found) == 1 else "mixed" if found else ""


def paper_defaults_note(setting: "SettingResult") -> Optional[str]:
    """A sentence (without its full stop) pointing to `unlearnbench tune` when methods here ran their authors'
    defaults (no shipped values fit)."""
    paper = [m.label for m in setting.methods if m.role == "method" and m.defaults == "paper"]
    if not paper:
        return None
    forget = setting.spec.label
    return (f"On their authors' (paper) defaults here, with no values shipped for this setting or asked for with "
            f"--defaults paper: {', '.join(paper)}; `unlearnbench tune --dataset {setting.dataset} --model "
            f"{setting.model} --forget {forget}` gives every method the same budget on the validation split")


def _speedups(setting: SettingResult) -> None:
    """Every speedup as retrain's mean seconds over the method's mean seconds (a ratio of means, not a mean of
    per-seed ratios, which a single fast seed would dominate)."""
    reference = setting.reference
    for m in setting.methods:
        if "speedup_vs_retrain" not in m.metrics:
            continue
        ratio = (reference.time.mean / m.time.mean if reference is not None and m.time.mean else
                 m.metrics["speedup_vs_retrain"].mean)
        m.metrics["speedup_vs_retrain"] = Stat(ratio, math.nan, math.nan, m.time.n)


def aggregate(rows: Sequence[dict[str, Any]], gap: str = DEFAULT_YARDSTICK) -> list[SettingResult]:
    """Groups rows by setting, then by (method, version, params), with `gap`'s values computed from the raw ones;
    failed cells are listed and counted, never averaged."""
    definition = yardstick(gap)
    settings: dict[tuple, SettingResult] = {}
    cells: dict[tuple, dict[tuple, list[dict[str, Any]]]] = {}
    failures: dict[tuple, dict[tuple, list[dict[str, Any]]]] = {}
    for row in _latest_per_cell(with_gaps(rows, definition)):
        key = (*setting_key(row), bool(row.get("tuned")))
        setting = settings.setdefault(key, SettingResult(
            row["dataset"], row["model"], list(row["forget"]), row["recipe"], tuned=key[-1],
            device=device_kind(row), definitions=row_definitions(row), gap=definition))
        env = {k: v for k, v in (row.get("env") or {}).items() if k not in PER_CELL_ENV}
        if env and env not in setting.envs:
            setting.envs.append(env)
        cell = (row["method"], row.get("method_version"), row["params_hash"])
        if row["status"] != "ok":
            setting.failed.append(row)
            failures.setdefault(key, {}).setdefault(cell, []).append(row)
            continue
        setting.rows.append(row)
        cells.setdefault(key, {}).setdefault(cell, []).append(row)
    roles = {cell: row_role(group[0]) for groups in (*cells.values(), *failures.values()) for cell, group in
             groups.items()}
    for key, setting in settings.items():  # a tuned setting shows its default twin's reference rows
        twin = cells.get(key[:-1] + (False,), {}) if setting.tuned else {}
        for cell, group in twin.items():
            if roles[cell] != "method":
                cells.setdefault(key, {})[cell] = group
                setting.rows.extend(group)
    for key in [k for k, s in settings.items() if not s.tuned and k[:-1] + (True,) in settings]:
        if not settings[key].failed and all(roles[c] != "method" for c in cells.get(key, {})):
            del settings[key]  # only the references a tuned run brought along: they are shown with it
    for key, setting in settings.items():
        setting.not_applicable = sorted({row["method"] for row in rows
                                         if not row_supports(row, setting.scenario)})
        groups = {**{c: [] for c in failures.get(key, {})}, **cells.get(key, {})}
        order = sorted(groups, key=lambda c: (ROLE_ORDER.index(roles[c]), c[0], c[1] or 0, c[2]))
        for cell in order:
            twins = sum(1 for c in groups if c[0] == cell[0])
            label = cell[0] if twins == 1 else f"{cell[0]} [v{cell[1]} {cell[2][:6]}]"
            setting.methods.append(_method_result(groups[cell], failures.get(key, {}).get(cell, []), label))
        _speedups(setting)
    return sorted(settings.values(), key=lambda s: (s.dataset, s.model, SCENARIOS.index(s.scenario), s.spec.label,
                                                   json.dumps(s.recipe), s.device, -s.definitions, s.tuned))
