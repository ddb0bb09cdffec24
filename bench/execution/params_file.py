"""Tuned-parameters files (TOML): written by `unlearnbench tune`, read by `run --params` and suites' `params`."""
from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from unlearnbench.core.errors import UnknownNameError, UserError
from unlearnbench.core.method import METHODS, supports
from unlearnbench.core.seeds import tuning_seeds
from unlearnbench.core.toml import tomllib
from unlearnbench.execution.runner import RunRequest, resolve_device
from unlearnbench.metrics import DEFINITIONS_VERSION
from unlearnbench.metrics.summary import TUNING_OBJECTIVE
from unlearnbench.models.recipes import default_recipe, recipe_identity


FORMAT = 1  # bump when the file's layout changes
# Run beside the tuned methods when --methods is not given.
REFERENCE_METHODS = ("original", "retrain", "retrain_independent")
# What each tuned row carries from the file (its provenance), besides the file's path and hash.
PROVENANCE_KEYS = ("params", "objective", "trials", "pruned", "failed", "seconds", "at_edge", "history")


def toml_value(value: Any) -> str:
    """`value` written as a TOML value (inline tables and arrays for mappings and sequences)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} to TOML")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_value(key)


def _table(name: str, values: Mapping[str, Any]) -> list[str]:
    return [f"[{name}]", *(f"{_toml_key(k)} = {toml_value(v)}" for k, v in values.items()), ""]


def tuned_seeds(setting: Mapping[str, Any]) -> list[Any]:
    """The tuning seeds of a file's stored setting: `tune_seeds` where trials were scored on several, else the one."""
    return list(setting.get("tune_seeds") or [setting.get("tune_seed")])


def setting_of(request: RunRequest, seeds: int = 1) -> dict[str, Any]:
    """The setting a file is tuned for, as the file stores it (`tune_seeds` only when trials were scored on
    several seeds, so single-seed files read as before)."""
    out = {"dataset": request.dataset, "model": request.model, "forget": request.forget.label,
           "recipe": {k: str(v) for k, v in request.recipe.items()}, "device": resolve_device(request.device).type,
           "tune_seed": request.seed}
    if seeds > 1:
        out["tune_seeds"] = tuning_seeds(request.seed, seeds)
    return out


def default_path(out: Path, request: RunRequest) -> Path:
    """OUT/tuned-<dataset>-<model>-<forget>[-<recipe hash>].toml: one file per tuned setting."""
    label = re.sub(r"[^A-Za-z0-9.@+-]+", "-", request.forget.label.replace(",", "+"))
    # A recipe other than the default gets a short hash of its identity, so two recipes' files stay apart.
    identity = recipe_identity(default_recipe(request.dataset, request.model, request.recipe))
    suffix = "-" + hashlib.sha256(repr(sorted(identity.items())).encode()).hexdigest()[:6] if request.recipe else ""
    return out / f"tuned-{request.dataset}-{request.model}-{label}{suffix}.toml"


def check_params_target(path: Path, request: RunRequest, seeds: int = 1) -> Optional["TunedParams"]:
    """The file already at `path` (None when there is none), which must hold `request`'s setting.

    Raises:
        UserError: it holds another setting (it is never overwritten) or cannot be read.
    """
    if not path.exists():
        return None
    existing = read_params_file(path)
    if existing.setting != setting_of(request, seeds):
        raise UserError(f"{path} holds parameters tuned for another setting ({existing.describe()}); give another "
                        "--out")
    return existing


def write_params_file(path: Path, request: RunRequest, budget: Any, results: Sequence[Any]) -> Path:
    """Writes (or, for the same setting, updates) the tuned-parameters file; returns its path.

    Raises:
        UserError: the file exists and holds another setting (it is never overwritten).
    """
    import optuna

    from unlearnbench import __version__

    existing = check_params_target(path, request, budget.seeds)
    methods: dict[str, dict[str, Any]] = dict(existing.methods) if existing else {}
    for result in results:
        methods[result.method] = {
            "version": METHODS.get(result.method).version, "params": result.params, "objective": result.objective,
            "trials": result.trials,
            "pruned": result.pruned, "failed": result.failed, "seconds": round(result.seconds, 3),
            "space": result.space, "at_edge": result.at_edge, "parts": result.parts, "history": result.history}
    budget_field = {"budget_trials": budget.trials} if budget.trials is not None else {
        "budget_seconds": budget.seconds}
    lines = ["# Tuned parameters written by `unlearnbench tune`: run them with `unlearnbench run --params FILE` or a "
             "suite's", "# params = \"FILE\". Tuned on the validation split at tune_seed; report other seeds.", "",
             *_table("setting", setting_of(request, budget.seeds)),
             *_table("tuning", {"format": FORMAT, "objective": TUNING_OBJECTIVE,
                                "objective_version": DEFINITIONS_VERSION, "defaults": request.defaults, **budget_field,
                                "sampler": "TPESampler, seeded per counted trial", "optuna": optuna.__version__,
                                "unlearnbench": __version__,
                                "updated": datetime.now(timezone.utc).isoformat(timespec="seconds")})]
    for name in sorted(methods):
        lines += _table(f"methods.{name}", methods[name])
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".toml.tmp")
    temporary.write_text("\n".join(lines), encoding="utf-8")
    temporary.replace(path)  # atomic: a crash never leaves half a file
    return path


@dataclass(frozen=True)
class TunedParams:
    """A read tuned-parameters file."""

    path: Path
    setting: dict[str, Any]
    tuning: dict[str, Any]
    methods: dict[str, dict[str, Any]]
    sha: str  # of the file's bytes: rows name exactly which file they ran

    def describe(self) -> str:
        """e.g. 'mnist/mlp forget 0, tune seed 1000'."""
        s = self.setting
        recipe = ", recipe " + " ".join(f"{k}={v}" for k, v in s["recipe"].items()) if s.get("recipe") else ""
        seeds = tuned_seeds(s)
        return (f"{s.get('dataset')}/{s.get('model')} forget {s.get('forget')}{recipe}, tune seed"
                f"{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}")

    def provenance(self, method: str) -> dict[str, Any]:
        """What a row run with this file's parameters for `method` stores in its `tuned` field."""
        entry = self.methods[method]
        budget = {k: self.tuning[k] for k in ("budget_trials", "budget_seconds") if k in self.tuning}
        return {"file": str(self.path), "sha": self.sha, "tune_seed": self.setting.get("tune_seed"),
                **({"tune_seeds": self.setting["tune_seeds"]} if "tune_seeds" in self.setting else {}),
                "objective_name": self.tuning.get("objective"), "optuna": self.tuning.get("optuna"), **budget,
                **{k: entry.get(k) for k in PROVENANCE_KEYS}}


def read_params_file(path: Path) -> TunedParams:
    """Reads and checks the layout of a tuned-parameters file; every problem names the file."""
    where = str(path)
    try:
        data = path.read_bytes()
        raw = tomllib.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise UserError(f"no params file {where!r}: give the file `unlearnbench tune` wrote (OUT/tuned-*.toml)") \
            from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{where}: cannot read the params file: {exc}") from None
    for table in ("setting", "tuning", "methods"):
        if not isinstance(raw.get(table), dict):
            raise UserError(f"{where}: not a tuned-parameters file (no [{table}] table); write one with "
                            "`unlearnbench tune`")
    for name, entry in raw["methods"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("params"), dict):
            raise UserError(f"{where}: methods.{name} has no params table")
    return TunedParams(path, raw["setting"], raw["tuning"], raw["methods"], hashlib.sha256(data).hexdigest()[:16])


def setting_mismatch(tuned: TunedParams, request: RunRequest) -> Optional[str]:
    """A warning naming what differs between the file's setting and `request`'s, or None when they match."""
    here = setting_of(request)
    differs = [k for k in ("dataset", "model", "forget", "recipe", "device") if tuned.setting.get(k) != here[k]]
    if not differs:
        return None
    shown = ", ".join(f"{k} {tuned.setting.get(k)!r} there, {here[k]!r} here" for k in differs)
    return f"{tuned.path} was tuned for another setting ({shown}); its parameters may not suit this one"


def apply_params(tuned: TunedParams, request: RunRequest, explicit_methods: bool) -> tuple[RunRequest, list[str]]:
    """`request` with the file's parameters and provenance for its methods, and the warnings to show.

    Without an explicit method list the file's methods run, with the original and retrained rows beside them.

    Raises:
        UserError: the file names an unknown method or field, a method the run leaves out, or a field that is also
            given explicitly (--set, a suite's methods table).
    """
    where = str(tuned.path)
    for name in tuned.methods:
        try:
            METHODS.get(name)
        except UnknownNameError as exc:
            raise UserError(f"{where}: {exc}") from None
    suited = [m for m in tuned.methods if supports(m, request.forget.scenario)]
    if explicit_methods:
        missing = sorted(set(suited) - {name for name, _ in request.method_specs()})
        if missing:
            raise UserError(f"{where} holds tuned parameters for {', '.join(missing)}, which the run leaves out; "
                            "add it to the methods or drop --methods to run the file's methods")
        methods = request.methods
    else:
        methods = (*REFERENCE_METHODS, *suited)
    entries = []
    specs = dataclasses.replace(request, methods=tuple(methods)).method_specs()
    for name, given in specs:
        if name in tuned.methods:
            file_params = tuned.methods[name]["params"]
            both = sorted(set(given) & set(file_params))
            if both:
                raise UserError(f"{name}.{both[0]} is tuned in {where} and also given explicitly; drop one")
            given = {**file_params, **given}
            try:
                METHODS.get(name).from_params(given, request.model, request.dataset, request.forget.scenario,
                                              request.defaults)
            except UserError as exc:
                raise UserError(f"{where}: methods.{name}: {exc}") from None
        entries.append((name, given))
    warnings = [w for w in (setting_mismatch(tuned, request),) if w]
    if request.seed in tuned_seeds(tuned.setting):
        warnings.append(f"seed {request.seed} is a seed {where} was tuned on; report other seeds")
    params = {k: v for k, v in request.params.items() if k not in dict(specs)}  # only strays: build_methods names them
    provenance = {name: tuned.provenance(name) for name in suited}
    return dataclasses.replace(request, methods=tuple(entries), params=params, tuned=provenance), warnings
