"""The Python API: run methods on a setting from a notebook or a script and get the stored rows back.

`unlearnbench.run(...)` is what `unlearnbench run` does (the command builds the same request and calls the same
functions), returning a `Results` whose rows are the dicts `unlearnbench results --format json` prints.
"""
from __future__ import annotations

import inspect
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

from torch import nn

from unlearnbench.core.defaults import DEFAULT_METHODS, DEFAULT_OUT, DEFAULT_YARDSTICK
from unlearnbench.core.errors import UserError
from unlearnbench.core.function_method import definitions
from unlearnbench.core.method import METHODS, Method
from unlearnbench.execution.saved_models import checkpoint_of

MethodLike = Union[str, type, Callable[..., Any]]


def method_name(entry: MethodLike) -> str:
    """The registered name of a method given by name, by Method class or by a function decorated with
    `unlearnbench.method`; a one-line UserError for anything else."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, type) and issubclass(entry, Method):
        name = getattr(entry, "name", None)
        if name in METHODS and METHODS.get(name) is entry:
            return name
        raise UserError(f"method class {entry.__name__} is not registered: decorate it with "
                        f"@register_method(\"{entry.__name__.lower()}\")")
    registered = getattr(entry, "__unlearnbench_method__", None)
    if registered is not None:
        return registered
    if callable(entry):
        label = getattr(entry, "__name__", repr(entry))
        raise UserError(f"function {label} is not a method yet: decorate it with "
                        f"@unlearnbench.method(name=..., access=..., scenarios=...)")
    raise UserError(f"{entry!r} is not a method: give a registered name, a Method class or a decorated function")


def writable_folder(folder: Path) -> None:
    """Raises a one-line UserError, before anything runs, when unlearned models cannot be saved in `folder`."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        marker = folder / ".write-test"
        marker.write_bytes(b"")
        marker.unlink()
    except OSError as exc:
        raise UserError(f"cannot save unlearned models in {str(folder)!r} ({exc.strerror or exc}): give --out a "
                        f"writable folder") from None


def _renderer(renderers: Mapping[str, Callable[..., str]], kind: str, name: str) -> Callable[..., str]:
    """The renderer called `name`; a one-line UserError naming the choices otherwise."""
    if name not in renderers:
        raise UserError(f"unknown {kind} format {name!r}; choose one of {', '.join(sorted(renderers))}")
    return renderers[name]


@dataclass
class Results:
    """Stored rows (those one `run` stored, or all of a store) with the store they live in; reports render every row
    of the store."""

    rows: list[dict[str, Any]]
    out: Path
    skipped: str = ""  # the store's note on rows it could not decode (empty when none)

    def all_rows(self) -> list[dict[str, Any]]:
        """Every row stored in `out` (this run's and earlier ones); none where `out` holds only populations."""
        from unlearnbench.execution.store import open_store

        if _populations_only(self.out):
            return []
        store = open_store(self.out, create=False)
        try:
            return store.rows()
        finally:
            store.close()

    def table(self, gap: str = DEFAULT_YARDSTICK, format: str = "table") -> str:
        """These rows as the fixed-width table `unlearnbench run` prints, or as JSON or CSV (`format`)."""
        from unlearnbench.reports.table import FORMATS

        render = _renderer(FORMATS, "table", format)
        return render(self.rows, gap, context=self.all_rows()) if format == "table" else render(self.rows)

    def report(self, path: Optional[Union[str, Path]] = None, gap: str = DEFAULT_YARDSTICK) -> Path:
        """Writes the HTML report of every row in `out` (default OUT/report.html); returns its path."""
        from unlearnbench.reports.html import write_report

        target = Path(path) if path is not None else self.out / "report.html"
        try:
            return write_report(self.all_rows(), target, str(self.out / "results.db"), gap)
        except OSError as exc:
            raise UserError(f"cannot write the report to {str(target)!r}: {exc.strerror or exc}") from None

    def figures(self, to: Union[str, Path], gap: str = DEFAULT_YARDSTICK) -> list[Path]:
        """Writes paper figures (PDF, SVG, PNG) and LaTeX tables of every row in `out` to folder `to`."""
        from unlearnbench.reports.paper import write_figures

        try:
            return write_figures(self.all_rows(), Path(to), gap)
        except OSError as exc:
            raise UserError(f"cannot write figures to {str(to)!r}: {exc.strerror or exc}") from None

    def model(self, method: str, seed: int = 0) -> Any:
        """The unlearned model `method` produced at `seed` in this run (saved with save_models=True)."""
        from unlearnbench.execution.saved_models import load_model

        for row in self.rows:
            saved = (row.get("env") or {}).get("saved_model")
            if row["method"] == method and row["seed"] == seed and saved:
                return load_model(self.out / "models" / saved["file"])
        raise UserError(f"no saved model of {method!r} at seed {seed} in this run: run with save_models=True")

    def leaderboard(self, gap: str = DEFAULT_YARDSTICK, format: str = "md") -> str:
        """The leaderboard of every row in `out`, as Markdown, CSV or HTML (`format`)."""
        from unlearnbench.reports.leaderboard import LEADERBOARD_FORMATS

        return _renderer(LEADERBOARD_FORMATS, "leaderboard", format)(self.all_rows(), gap, populations=self.out)


def _populations_only(out: Path) -> bool:
    """Whether `out` holds stored populations (`run --population`) and no results store."""
    from unlearnbench.reports.population import population_folders

    return not (Path(out) / "results.db").exists() and bool(population_folders(Path(out)))


def results(out: Union[str, Path] = DEFAULT_OUT) -> Results:
    """Every row stored in OUT/results.db; a one-line error where OUT holds no store (and no populations)."""
    from unlearnbench.execution.store import open_store, skipped_note

    if _populations_only(Path(out)):
        return Results([], Path(out))
    store = open_store(Path(out), create=False)
    try:
        return Results(store.rows(), Path(out), skipped_note(store) or "")
    finally:
        store.close()


def registered(kind: str) -> list[tuple[str, str]]:
    """(name, one line on it) of every registered method, dataset or model (`kind`), sorted by name."""
    from unlearnbench.core.scenarios import SCENARIOS
    from unlearnbench.data.loading import DATASETS
    from unlearnbench.models.architectures import MODELS

    if kind == "methods":
        out = []
        for name in METHODS.names():
            cls = METHODS.get(name)
            access = ", ".join(sorted(cls.access)) or "none"
            glance = "  zero-glance" if cls().zero_glance else ""
            scenarios = ",".join(sorted(cls.scenarios, key=SCENARIOS.index))
            out.append((name, f"v{cls.version}  scenarios: {scenarios}  access: {access}{glance}"))
        return out
    if kind not in ("datasets", "models"):
        raise UserError(f"unknown kind {kind!r}: choose methods, datasets or models")
    registry: Any = DATASETS if kind == "datasets" else MODELS
    docs = {name: ((registry.get(name).build if kind == "models" else registry.get(name)).__doc__ or "")
            for name in registry.names()}
    return [(name, doc.strip().splitlines()[0] if doc.strip() else "") for name, doc in docs.items()]


def request(dataset: str = "digits", model: str = "mlp", methods: Iterable[MethodLike] = DEFAULT_METHODS,
            forget: Union[str, Sequence[int]] = "0", seed: int = 0,
            params: Optional[dict[str, dict[str, Any]]] = None, **options: Any) -> Any:
    """The RunRequest for one setting and seed; `options` are RunRequest fields, checked by name."""
    from unlearnbench.data.forget import parse_forget
    from unlearnbench.execution.runner import RunRequest

    unknown = sorted(set(options) - set(inspect.signature(RunRequest).parameters))
    if unknown:
        raise UserError(f"unknown option {unknown[0]!r}; options are RunRequest fields "
                        f"(device, data_root, cache_dir, recipe, threads, ...)")
    spec = forget if isinstance(forget, str) else ",".join(str(c) for c in forget)
    return RunRequest(dataset=dataset, model=model, methods=tuple(method_name(m) for m in methods),
                      forget=parse_forget(spec), seed=seed,
                      params={k: dict(v) for k, v in (params or {}).items()}, **options)


def run(dataset: str = "digits", model: str = "mlp", methods: Iterable[MethodLike] = DEFAULT_METHODS,
        forget: Union[str, Sequence[int]] = "0", seeds: Iterable[int] = (0,), out: Union[str, Path] = DEFAULT_OUT,
        params: Optional[dict[str, dict[str, Any]]] = None, progress: Optional[Callable[..., None]] = None,
        save_models: bool = False, workers: int = 1, backend: str = "local", **options: Any) -> Results:
    """Runs `methods` on one dataset/model/forget setting for every seed, storing each row in OUT/results.db.

    `methods` holds registered names, registered Method classes or functions decorated with `unlearnbench.method`;
    `original` (and `retrained`) bring the user's own model, as an nn.Module or a state-dict checkpoint path,
    instead of training one with the setting's recipe; `params` maps a method name to hyperparameter overrides (as
    `--set`); `workers` > 1 runs the seeds in that many processes (`backend="ray"`: Ray tasks), function methods
    shipped to them by value; `save_models` keeps every unlearned model
    in OUT/models (`Results.model`, `unlearnbench.load_model`, `unlearnbench rescore`); `options` are RunRequest fields
    (device, data_root, cache_dir, recipe, threads, mia_shadows, deep_metrics, ...).
    """
    names = tuple(method_name(m) for m in methods)
    for kind in ("original", "retrained"):
        if isinstance(options.get(kind), nn.Module):  # kept as a checkpoint, so every worker can load it too
            folder = Path(out) / "supplied" / kind
            writable_folder(folder)
            options[kind] = str(checkpoint_of(options[kind], folder))
        elif options.get(kind) is not None:
            options[kind] = str(options[kind])
    models = str(Path(out) / "models") if save_models else None
    shipped = definitions(names) if workers > 1 or backend != "local" else ()
    requests = [request(dataset, model, names, forget, seed, params, save_models=models, definitions=shipped,
                        **options) for seed in seeds]
    return run_requests(requests, Path(out), progress, workers, backend)


def run_requests(requests: Sequence[Any], out: Path, progress: Optional[Callable[..., None]] = None,
                 workers: int = 1, backend: str = "local") -> Results:
    """Runs each RunRequest, storing its rows in OUT/results.db as they end (`unlearnbench run` calls this too);
    with workers > 1 or backend "ray", the requests run in worker processes or Ray tasks."""
    from unlearnbench.execution.backends import execute_collect, map_tasks
    from unlearnbench.execution.runner import run as run_request
    from unlearnbench.execution.store import open_store

    for folder in {r.save_models for r in requests if r.save_models}:
        writable_folder(Path(folder))
    if workers < 1:
        raise UserError(f"workers={workers} must be at least 1")
    rows: list[dict[str, Any]] = []
    store = open_store(out)
    try:
        if workers <= 1 and backend == "local":
            for request in requests:
                rows += run_request(request, store, progress)
        else:
            def stored(job: tuple, result: list[dict[str, Any]]) -> None:
                for row in result:
                    row["id"] = store.insert(row)
                    rows.append(row)

            run_id = uuid.uuid4().hex[:12]
            map_tasks(execute_collect, [(r, run_id) for r in requests], stored, backend=backend, workers=workers)
    finally:
        store.close()
    return Results(sorted(rows, key=lambda r: r["id"]), out)


def rescore(out: Union[str, Path] = DEFAULT_OUT, data_root: Optional[str] = None,
            cache_dir: Optional[Union[str, Path]] = None, progress: Optional[Callable[..., None]] = None
            ) -> tuple[int, Results]:
    """Recomputes every metric of the models OUT saved (`save_models`), running no method; returns how many rows
    were rescored and the store's rows."""
    from unlearnbench.execution.rescore import rescore as rescore_store

    count = rescore_store(Path(out), data_root, Path(cache_dir) if cache_dir else None, progress)
    return count, results(out)


@dataclass
class SweepOutcome:
    """What a sweep planned and ran, and the store's rows afterwards."""

    suite: Any  # execution.suite.Suite
    summary: Any  # execution.sweep.SweepSummary
    results: Results


def sweep(suite: Union[str, Path], out: Union[str, Path] = DEFAULT_OUT, backend: str = "local", workers: int = 1,
          rerun: bool = False, retry_failed: bool = False, ray_address: Optional[str] = None,
          progress: Optional[Callable[..., None]] = None, data_root: Optional[str] = None,
          cache_dir: Optional[Union[str, Path]] = None, threads: int = 0, remeasure_retrain: bool = False
          ) -> SweepOutcome:
    """Runs the pending cells of a suite (a built-in name or a TOML file) into OUT/results.db; resumable."""
    import dataclasses

    from unlearnbench.execution.store import open_store
    from unlearnbench.execution.suite import load_suite
    from unlearnbench.execution.sweep import sweep as sweep_suite

    if workers < 1:
        raise UserError(f"workers={workers} must be at least 1")
    loaded = load_suite(str(suite), data_root=data_root, cache_dir=Path(cache_dir) if cache_dir else None)
    loaded = dataclasses.replace(loaded, requests=tuple(
        dataclasses.replace(r, threads=threads, remeasure_retrain=remeasure_retrain) for r in loaded.requests))
    store = open_store(Path(out))
    try:
        summary = sweep_suite(loaded, store, backend=backend, workers=workers, rerun=rerun, retry_failed=retry_failed,
                              ray_address=ray_address, progress=progress)
    finally:
        store.close()
    return SweepOutcome(loaded, summary, results(out))


@dataclass
class PopulationOutcome:
    """One setting's populations: each method's forgetting quality and the ceiling of two retrained populations."""

    request: Any  # execution.runner.RunRequest
    methods: list[Any]  # execution.population.PopulationResult per method
    ceiling: Any  # metrics.challenge.ChallengeScore
    ceiling_klom: dict[str, float]
    folder: Path  # OUT/population/<setting>/: summary.json and the raw statistics


def populations(requests: Sequence[Any], size: int, protocol: str = "challenge",
                out: Union[str, Path] = DEFAULT_OUT, progress: Optional[Callable[..., None]] = None,
                backend: str = "local", workers: int = 1, ray_address: Optional[str] = None
                ) -> tuple[list[PopulationOutcome], Path]:
    """Each request's populations of `size` (the challenge's F, KLOM), raw statistics under OUT/population, and the
    population report's path."""
    from unlearnbench.execution.population import run_population
    from unlearnbench.reports.population import write_population_report

    if workers < 1:
        raise UserError(f"workers={workers} must be at least 1")
    outcomes = []
    for r in requests:
        outcomes.append(PopulationOutcome(r, *run_population(r, size, protocol, Path(out), progress, backend,
                                                             workers, ray_address)))
    return outcomes, write_population_report(Path(out) / "population")


@dataclass
class TuneOutcome:
    """Each method's study, and the tuned-parameters file and figure it wrote."""

    request: Any  # execution.runner.RunRequest, at the tuning seed
    studies: list[Any]  # tuning.tune.StudyResult per method
    budget: Any  # tuning.tune.Budget
    path: Path
    figure: Path


def tune(request: Any, out: Union[str, Path] = DEFAULT_OUT, trials: Optional[int] = None,
         budget_s: Optional[float] = None, spaces: Optional[dict[str, dict[str, Any]]] = None,
         backend: str = "local", progress: Optional[Callable[..., None]] = None,
         ray_address: Optional[str] = None, seeds: int = 1) -> TuneOutcome:
    """Tunes each method of `request` (built by `unlearnbench.api.request`, its seed the first tuning seed) with the
    same budget on the validation split, each trial averaged over `seeds` settings; writes OUT/tuned-....toml and
    its figure."""
    from unlearnbench.execution.params_file import (check_params_target, default_path, read_params_file,
                                                    write_params_file)
    from unlearnbench.reports.tuning import write_tuning_figure
    from unlearnbench.tuning.tune import DEFAULT_TRIALS, Budget
    from unlearnbench.tuning.tune import tune as tune_methods

    budget = Budget(trials=None, seconds=budget_s, seeds=seeds) if budget_s is not None else \
        Budget(trials=trials if trials is not None else DEFAULT_TRIALS, seeds=seeds)
    out = Path(out)
    path = default_path(out, request)
    check_params_target(path, request, budget.seeds)  # before any work: a file of another setting is never overwritten
    studies = tune_methods(request, spaces or {}, budget, out, backend, progress, ray_address,
                           on_result=lambda result: write_params_file(path, request, budget, [result]))
    figure = write_tuning_figure(read_params_file(path), out / f"{path.stem}.png")
    return TuneOutcome(request, studies, budget, path, figure)


def bench(request: Any, repeat: int = 3, progress: Optional[Callable[..., None]] = None, profile: bool = False,
          population: int = 0) -> Any:
    """Times each method of `request` against its plain loop in one process, then the training epoch and the eval
    pass; returns the speed report (`speed.bench.format_speed` prints it)."""
    from unlearnbench.speed.bench import speed_report

    if repeat < 1:
        raise UserError(f"repeat={repeat} must be at least 1")
    if population and population < 2:
        raise UserError(f"population={population}: compare at least 2 members (e.g. 32)")
    return speed_report(request, repeat, progress, profile, population)
