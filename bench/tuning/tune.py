"""Equal-budget tuning: one Optuna study per method over its declared space, scored on the validation split.

The objective is val_retrain_gap (metrics/summary.py): the retrain gap with the validation split in the test split's
place, so test data never enters tuning; with several tuning seeds each trial scores the mean over their settings.
Every method gets the same budget, trials or seconds. Each study lives in an SQLite file under OUT/tuning; an
interrupted study resumes where it stopped: its counted trials are kept, the trial that was running when the
process died is run again with the same parameters, and the sampler is seeded from the number of counted trials,
so a resumed study draws exactly what an uninterrupted one would have.
"""
from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

from unlearnbench.core.config import config_dict
from unlearnbench.core.errors import DivergedError, UserError
from unlearnbench.core.method import METHODS, Method, supports
from unlearnbench.core.seeds import tuning_seeds
from unlearnbench.core.space import Choice, Dimension, Range, at_edge, check_space, describe, resolve
from unlearnbench.execution.evaluate import ValReference, val_objective, val_reference
from unlearnbench.execution.runner import (RunRequest, apply_method, build_methods, failure_reason, prepare_setting,
                                 setting_identity, setting_threads)
from unlearnbench.execution.setting import Progress, Setting
from unlearnbench.models.recipes import default_recipe
from unlearnbench.reports.tuning import budget_label

DEFAULT_TRIALS = 20
SAMPLER_SEED_STRIDE = 1_000_003
STUDIES = "tuning"  # OUT/tuning/<method>.db: one SQLite file per method, so parallel studies never share a writer


@dataclass(frozen=True)
class Budget:
    """What every method gets: a number of trials, or seconds of trials (a trial started in time finishes), each
    trial scored on `seeds` tuning settings (the tuning seed and the ones after it) and averaged."""

    trials: Optional[int] = DEFAULT_TRIALS
    seconds: Optional[float] = None
    seeds: int = 1

    def __post_init__(self) -> None:
        if (self.trials is None) == (self.seconds is None):
            raise UserError("give one budget: --trials N or --budget-s S")
        if self.trials is not None and self.trials < 1:
            raise UserError(f"--trials {self.trials} must be at least 1")
        if self.seconds is not None and not (math.isfinite(self.seconds) and self.seconds > 0):
            raise UserError(f"--budget-s {self.seconds:g} must be a number of seconds above 0")
        if self.seeds < 1:
            raise UserError(f"--tune-seeds {self.seeds} must be at least 1")

    def spent(self, counted: int, seconds: float) -> bool:
        """True once `counted` trials taking `seconds` in all use the budget up."""
        return counted >= self.trials if self.trials is not None else seconds >= self.seconds

    @property
    def label(self) -> str:
        """e.g. '20 trials' or '60 s' (with ' x 3 seeds' when each trial is scored on several)."""
        return budget_label(self.trials, self.seconds, self.seeds)


@dataclass(frozen=True)
class TuningSetting:
    """One tuning seed's prepared setting and its retrained model scored on the validation side."""

    setting: Setting
    reference: ValReference


@dataclass(frozen=True)
class MethodPlan:
    """One method's study: its name, fixed overrides, and its space resolved for the setting."""

    method: str
    fixed: dict[str, Any]
    space: dict[str, Union[Range, Choice]]

    def identity(self, request: RunRequest, seeds: int = 1) -> str:
        """The study's name: method and version, setting, tuning seeds, the defaults the first trial starts from,
        space and fixed values (not the number of trials, so a larger budget extends a study)."""
        payload = {**setting_identity(request), "method": self.method, "version": METHODS.get(self.method).version,
                   "defaults": request.defaults, "fixed": self.fixed,
                   "space": {k: describe(v) for k, v in self.space.items()}}
        if seeds > 1:  # a single seed keeps the name studies had before several seeds existed
            payload["seeds"] = seeds
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]
        return f"{self.method}-{digest}"


@dataclass
class StudyResult:
    """What one method's study found and cost."""

    method: str
    params: dict[str, Any]  # the best trial's parameters, fixed overrides included
    objective: float
    parts: dict[str, float]  # the best trial's |difference| to the retrained model per value
    trials: int  # counted trials (completed, pruned and failed)
    pruned: int  # diverged
    failed: int
    seconds: float  # the counted trials' wall-clock seconds (unlearning and validation scoring)
    history: list[float] = field(default_factory=list)  # objective per counted trial (nan: pruned or failed)
    space: dict[str, str] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)  # why trials were pruned or failed, first few
    at_edge: dict[str, str] = field(default_factory=dict)  # field -> 'low' | 'high': best value at an end of its range


def plan_methods(request: RunRequest, spaces: dict[str, dict[str, Dimension]]) -> list[MethodPlan]:
    """Validates methods, fixed values and spaces before any work; every problem is a one-line UserError."""
    methods = build_methods(request)  # unknown names, bad --set values, unsuitable scenarios
    names = [m.name for m in methods]
    stray = sorted(set(spaces) - set(names))
    if stray:
        raise UserError(f"--space given for {', '.join(stray)}, which is not among --methods {','.join(names)}")
    recipe = default_recipe(request.dataset, request.model, request.recipe)
    if recipe.val_fraction <= 0:
        raise UserError("tuning scores trials on the validation split, but --recipe val_fraction=0 leaves none; "
                        "drop it")
    plans = []
    for method in methods:
        cls = METHODS.get(method.name)
        if cls.role != "method":
            raise UserError(f"{method.name} is a reference row ({cls.role}), not an unlearning method: it has nothing "
                            "to tune; leave it out of --methods")
        declared = {**cls.search_space, **spaces.get(method.name, {})}
        if not declared:
            raise UserError(f"{method.name} declares no search space: give one with --space "
                            f"{method.name}.FIELD=LOW:HIGH[:log]")
        fixed = dict(request.params.get(method.name, {}))
        both = sorted(set(fixed) & set(declared))
        if both:
            raise UserError(f"{method.name}.{both[0]} is both fixed (--set) and tuned; drop one")
        checked = check_space(cls, declared, method.name, request.model, request.dataset, request.forget.scenario)
        plans.append(MethodPlan(method.name, fixed, resolve(checked, recipe.epochs)))
    return plans


def _distributions(space: dict[str, Union[Range, Choice]]) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for name, dim in space.items():
        if isinstance(dim, Choice):
            out[name] = CategoricalDistribution(dim.values)
        elif isinstance(dim.low, int) and isinstance(dim.high, int):
            out[name] = IntDistribution(dim.low, dim.high, log=dim.log)
        else:
            out[name] = FloatDistribution(float(dim.low), float(dim.high), log=dim.log)
    return out


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Holds an exclusive lock on `path` (released when the process dies), or raises UserError if taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"another `unlearnbench tune` is running this study ({path}); wait for it or use "
                            "another --out") from None
        yield


def _inside(dim: Union[Range, Choice], value: Any) -> bool:
    return value in dim.values if isinstance(dim, Choice) else dim.low <= value <= dim.high


def counted_trials(study: Any) -> list[Any]:
    """The study's finished trials, in order, less those a dead process left (listed in the study's
    `interrupted` attribute when it resumed)."""
    interrupted = set(study.user_attrs.get("interrupted", []))
    return sorted((t for t in study.get_trials(deepcopy=False) if t.state.is_finished() and t.number not in
                   interrupted), key=lambda t: t.number)


def _open_study(plan: MethodPlan, request: RunRequest, folder: Path, defaults: dict[str, Any], seeds: int) -> Any:
    """Creates or loads the method's study; re-queues a trial interrupted by a dead process; queues the defaults
    that lie in the space as the first trial of a new study."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{folder / f'{plan.method}.db'}"
    study = optuna.create_study(storage=storage, study_name=plan.identity(request, seeds), direction="minimize",
                                load_if_exists=True)
    trials = study.get_trials(deepcopy=False)
    if not trials:
        start = {k: defaults[k] for k, dim in plan.space.items() if _inside(dim, defaults[k])}
        if start:
            study.enqueue_trial(start)
    stale = [t for t in trials if t.state == TrialState.RUNNING]  # their process died (the lock says so)
    if stale:  # recorded before they are finished, so a second death in between cannot make them count
        study.set_user_attr("interrupted", sorted({*study.user_attrs.get("interrupted", []),
                                                   *(t.number for t in stale)}))
    for trial in stale:  # finished as not counted; the same draw runs again
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(trial.params)
    return study


def run_study(plan: MethodPlan, settings: list[TuningSetting], request: RunRequest, budget: Budget,
              folder: Path, progress: Optional[Progress] = None) -> StudyResult:
    """Runs (or resumes) one method's study until its budget is spent; returns its best trial and cost."""
    import optuna
    from optuna.trial import TrialState

    cls = METHODS.get(plan.method)
    defaults = config_dict(cls.from_params(plan.fixed, request.model, request.dataset,
                                           request.forget.scenario, request.defaults).cfg)
    distributions = _distributions(plan.space)
    with _exclusive(folder / f"{plan.method}.lock"):
        study = _open_study(plan, request, folder, defaults, budget.seeds)
        while True:
            done = counted_trials(study)
            if budget.spent(len(done), sum(t.user_attrs.get("seconds", 0.0) for t in done)):
                break
            study.sampler = optuna.samplers.TPESampler(seed=sampler_seed(request.seed, len(done)))
            trial = study.ask(distributions)
            state, value = _evaluate(trial, plan, cls, settings, request)
            if state == TrialState.COMPLETE:
                study.tell(trial, value)
            else:
                study.tell(trial, state=state)
            if progress:
                shown = f"{value:.4f}" if state == TrialState.COMPLETE else state.name.lower()
                total = f"/{budget.trials}" if budget.trials is not None else ""
                progress(f"{plan.method}: trial {len(done) + 1}{total}: {shown} "
                         f"({trial.user_attrs['seconds']:.1f} s)")
        return summarise(plan, study)


def sampler_seed(tune_seed: int, counted: int) -> int:
    """The seed of the sampler that draws the trial after `counted` counted ones (the same on every resume)."""
    return (tune_seed * SAMPLER_SEED_STRIDE + counted) % 2**32


def _evaluate(trial: Any, plan: MethodPlan, cls: type[Method], settings: list[TuningSetting],
              request: RunRequest) -> tuple[Any, float]:
    """Runs one trial on every tuning setting; returns its state (complete, pruned when it diverged on any, failed)
    and the objective averaged over the settings."""
    from optuna.trial import TrialState

    t0 = time.perf_counter()
    state, value = TrialState.FAIL, math.nan
    try:
        method = cls.from_params({**plan.fixed, **trial.params}, request.model, request.dataset,
                                 request.forget.scenario, request.defaults)
        scores = [val_objective(apply_method(s.setting, method)[0], s.setting, s.reference) for s in settings]
        value = sum(v for v, _ in scores) / len(scores)
        parts = {k: sum(p[k] for _, p in scores) / len(scores) for k in scores[0][1]}
        if len(scores) > 1:
            trial.set_user_attr("per_seed", [v for v, _ in scores])
        trial.set_user_attr("parts", parts)
        if math.isfinite(value):
            state = TrialState.COMPLETE
        else:
            trial.set_user_attr("reason", "the objective is not a number (a part of it is undefined)")
    except DivergedError as exc:
        state = TrialState.PRUNED
        trial.set_user_attr("reason", str(exc))
    except UserError as exc:
        trial.set_user_attr("reason", str(exc))
    except Exception as exc:  # a broken configuration fails its own trial; the study goes on
        trial.set_user_attr("reason", failure_reason(exc))
    trial.set_user_attr("seconds", time.perf_counter() - t0)
    return state, value


def summarise(plan: MethodPlan, study: Any) -> StudyResult:
    """The study's best trial, history and cost, over its counted trials."""
    from optuna.trial import TrialState

    done = counted_trials(study)
    complete = [t for t in done if t.state == TrialState.COMPLETE]
    best = min(complete, key=lambda t: (t.value, t.number)) if complete else None
    return StudyResult(
        method=plan.method, params={**plan.fixed, **(best.params if best else {})},
        objective=best.value if best else math.nan, parts=dict(best.user_attrs.get("parts", {})) if best else {},
        trials=len(done), pruned=sum(t.state == TrialState.PRUNED for t in done),
        failed=sum(t.state == TrialState.FAIL for t in done),
        seconds=sum(t.user_attrs.get("seconds", 0.0) for t in done),
        history=[t.value if t.state == TrialState.COMPLETE else math.nan for t in done],
        space={k: describe(v) for k, v in plan.space.items()},
        reasons=list(dict.fromkeys(t.user_attrs["reason"] for t in done if "reason" in t.user_attrs))[:3],
        at_edge=at_edge(plan.space, best.params) if best else {})


def tune_one(request: RunRequest, plan: MethodPlan, budget: Budget, folder: Path,
             progress: Optional[Progress] = None) -> StudyResult:
    """Prepares the tuning settings and runs one method's study (a Ray task runs exactly this)."""
    with setting_threads(request):
        return run_study(plan, tuning_settings(request, budget.seeds), request, budget, folder, progress)


def _trained_settings(request: RunRequest, seeds: int, progress: Optional[Progress] = None) -> list[Setting]:
    """The prepared setting of each tuning seed, its original and retrained models trained (or loaded) once."""
    out = []
    for seed in tuning_seeds(request.seed, seeds):
        setting = prepare_setting(dataclasses.replace(request, seed=seed), progress)
        setting.trained("original", progress)
        setting.trained("retrain", progress)
        out.append(setting)
    return out


def tuning_settings(request: RunRequest, seeds: int, progress: Optional[Progress] = None) -> list[TuningSetting]:
    """Each tuning seed's trained setting with its retrained model scored on val once, for every method."""
    return [TuningSetting(s, val_reference(s)) for s in _trained_settings(request, seeds, progress)]


ResultSink = Callable[[StudyResult], None]


def tune_local(request: RunRequest, plans: list[MethodPlan], budget: Budget, folder: Path, on_result: ResultSink,
               progress: Optional[Progress] = None, address: Optional[str] = None) -> None:
    """Runs the methods' studies here, one after another, on one prepared setting."""
    with setting_threads(request):
        settings = tuning_settings(request, budget.seeds, progress)
        for plan in plans:
            on_result(run_study(plan, settings, request, budget, folder, progress))


def tune_ray(request: RunRequest, plans: list[MethodPlan], budget: Budget, folder: Path, on_result: ResultSink,
             progress: Optional[Progress] = None, address: Optional[str] = None) -> None:
    """Runs each method's study as a Ray task (one CPU each), in parallel, as sweeps run cells."""
    from unlearnbench.execution.backends import map_tasks

    with setting_threads(request):  # train (or load) both models once, before the tasks need them
        _trained_settings(request, budget.seeds, progress)
    cpus = os.cpu_count() or 1
    threaded = dataclasses.replace(request, threads=max(1, cpus // len(plans)))

    def done(job: tuple, result: StudyResult) -> None:
        on_result(result)
        if progress:
            progress(f"{job[1].method}: {result.trials} trials, best {result.objective:.4f}")

    map_tasks(tune_one, [(threaded, plan, budget, folder) for plan in plans], done, backend="ray",
              workers=len(plans), address=address)


TUNE_BACKENDS = {"local": tune_local, "ray": tune_ray}


def tunable_methods(scenario: str) -> tuple[str, ...]:
    """Every registered unlearning method with a search space that suits `scenario` (tune's default list)."""
    return tuple(n for n in METHODS.names() if METHODS.get(n).role == "method" and METHODS.get(n).search_space
                 and supports(n, scenario))


def tune(request: RunRequest, spaces: dict[str, dict[str, Dimension]], budget: Budget, out: Path,
         backend: str = "local", progress: Optional[Progress] = None, address: Optional[str] = None,
         on_result: Optional[ResultSink] = None) -> list[StudyResult]:
    """Tunes every requested method with the same budget (studies under OUT/tuning); `on_result` gets each
    method's result as soon as its study ends. Returns the results in the requested order."""
    plans = plan_methods(request, spaces)
    folder = out / STUDIES
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, StudyResult] = {}

    def collect(result: StudyResult) -> None:
        results[result.method] = result
        if on_result:
            on_result(result)

    TUNE_BACKENDS[backend](request, plans, budget, folder, collect, progress, address)
    return [results[plan.method] for plan in plans]
