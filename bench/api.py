"""The Python API: run methods on a setting from a notebook or a script and get the stored rows back.

`unlearnbench.run(...)` is what `unlearnbench run` does (the command builds the same request and calls the same
functions), returning a `Results` whose rows are the dicts `unlearnbench results --format json` prints.
"""
from __future__ import annotations

import inspect
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence, Union

from torch import nn

from unlearnbench.core.defaults import DEFAULT_METHODS, DEFAULT_OUT
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


@dataclass
class Results:
    """The rows one `run` stored, with the store they live in (every earlier row of `out` included in reports)."""

    rows: list[dict[str, Any]]
    out: Path

    def all_rows(self) -> list[dict[str, Any]]:
        """Every row stored in `out` (this run's and earlier ones)."""
        from unlearnbench.execution.store import open_store

        store = open_store(self.out, create=False)
        try:
            return store.rows()
        finally:
            store.close()

    def table(self, gap: str = "concerns") -> str:
        """This run's rows as the fixed-width table `unlearnbench run` prints."""
        from unlearnbench.reports.table import format_table

        return format_table(self.rows, gap, context=self.all_rows())

    def report(self, path: Optional[Union[str, Path]] = None, gap: str = "concerns") -> Path:
        """Writes the HTML report of every row in `out` (default OUT/report.html); returns its path."""
        from unlearnbench.reports.html import write_report

        target = Path(path) if path is not None else self.out / "report.html"
        return write_report(self.all_rows(), target, str(self.out / "results.db"), gap)

    def model(self, method: str, seed: int = 0) -> Any:
        """The unlearned model `method` produced at `seed` in this run (saved with save_models=True)."""
        from unlearnbench.execution.saved_models import load_model

        for row in self.rows:
            saved = (row.get("env") or {}).get("saved_model")
            if row["method"] == method and row["seed"] == seed and saved:
                return load_model(self.out / "models" / saved["file"])
        raise UserError(f"no saved model of {method!r} at seed {seed} in this run: run with save_models=True")

    def leaderboard(self, gap: str = "concerns") -> str:
        """The Markdown leaderboard of every row in `out`."""
        from unlearnbench.reports.leaderboard import leaderboard_markdown

        return leaderboard_markdown(self.all_rows(), gap)


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
    from unlearnbench.data.forget import parse_forget
    from unlearnbench.execution.runner import RunRequest

    names = tuple(method_name(m) for m in methods)
    unknown = sorted(set(options) - set(inspect.signature(RunRequest).parameters))
    if unknown:
        raise UserError(f"unlearnbench.run got an unknown option {unknown[0]!r}; options are RunRequest fields")
    spec = forget if isinstance(forget, str) else ",".join(str(c) for c in forget)
    for kind in ("original", "retrained"):
        if isinstance(options.get(kind), nn.Module):  # kept as a checkpoint, so every worker can load it too
            folder = Path(out) / "supplied" / kind
            writable_folder(folder)
            options[kind] = str(checkpoint_of(options[kind], folder))
        elif options.get(kind) is not None:
            options[kind] = str(options[kind])
    models = str(Path(out) / "models") if save_models else None
    shipped = definitions(names) if workers > 1 or backend != "local" else ()
    requests = [RunRequest(dataset=dataset, model=model, methods=names, forget=parse_forget(spec), seed=seed,
                           params={k: dict(v) for k, v in (params or {}).items()}, save_models=models,
                           definitions=shipped, **options) for seed in seeds]
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
