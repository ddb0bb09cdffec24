"""Suite files (TOML): a grid of datasets x models x forget sets x seeds x method configurations."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from unlearnbench.core.errors import UnknownNameError, UserError
from unlearnbench.core.method import METHODS, supports
from unlearnbench.core.shipped import CHOICES as DEFAULT_CHOICES
from unlearnbench.core.toml import tomllib
from unlearnbench.data.forget import ForgetSpec
from unlearnbench.data.loading import DATASETS, class_count, has_superclasses
from unlearnbench.execution.population import check_population
from unlearnbench.execution.runner import RunRequest, check_seed
from unlearnbench.models.architectures import MODELS
from unlearnbench.models.recipes import default_recipe


BUILTIN_SUITES = Path(__file__).resolve().parent.parent / "suites"
TOP_KEYS = {"name", "description", "device", "data_root", "mia_shadows", "deep_metrics", "grid", "recipe", "methods",
            "params", "population", "protocol", "defaults"}
GRID_KEYS = {"datasets", "models", "forget", "seeds"}


class SuiteError(UserError):
    """A suite file that cannot be run; the message names the file and the key."""


@dataclass(frozen=True)
class Suite:
    """A validated suite: one RunRequest per (dataset, model, forget set, seed), all method configurations each."""

    name: str
    path: Path
    requests: tuple[RunRequest, ...]
    not_applicable: int = 0  # (method, cell) pairs left out: the method does not suit the forget scenario
    warnings: tuple[str, ...] = ()  # e.g. a params file tuned for another setting
    population: int = 0  # > 0: after the cells, each setting's population of this size (unlearnbench.execution.population)
    protocol: str = "challenge"

    @property
    def cell_count(self) -> int:
        """Number of cells in the grid."""
        return sum(len(r.methods) for r in self.requests)


def resolve_suite_path(name_or_path: str) -> Path:
    """A path to a suite file, or the name of a built-in suite (smoke, mnist, cifar10)."""
    path = Path(name_or_path)
    if path.exists():
        return path
    builtin = BUILTIN_SUITES / f"{name_or_path}.toml"
    if builtin.exists():
        return builtin
    names = ", ".join(sorted(p.stem for p in BUILTIN_SUITES.glob("*.toml")))
    raise SuiteError(f"no suite file {name_or_path!r}: give a path to a .toml file or a built-in suite ({names})")


def _list(where: str, value: Any, kind: type) -> list:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise SuiteError(f"{where}: the list is empty, so the grid has no cells; give at least one value")
    for v in values:
        if not isinstance(v, kind) or isinstance(v, bool) and kind is not bool:
            raise SuiteError(f"{where}: expected {kind.__name__} or a list of them, got {v!r}")
    return values


def _forget_sets(where: str, value: Any) -> list[ForgetSpec]:
    if not isinstance(value, list) or not value:
        raise SuiteError(f"{where}: expected a list of forget specs, e.g. [[0], [0, 2], \"random:0.1\"]")
    specs = []
    for item in value:
        if not isinstance(item, (int, list, str)) or isinstance(item, bool):
            raise SuiteError(f"{where}: each forget set is a class id, a list of them or a spec string, got {item!r}")
        try:
            specs.append(ForgetSpec.parse([item] if isinstance(item, int) else item))
        except UserError as exc:
            raise SuiteError(f"{where}: {exc}") from None
    return specs


def _method_grid(where: str, methods: Any, model: str, dataset: str) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(methods, dict) or not methods:
        raise SuiteError(f"{where}: expected a table of methods, e.g. [methods] unsir = {{}}")
    out = []
    for name, params in methods.items():
        key = f"{where}.{name}"
        try:
            cls = METHODS.get(name)
        except UnknownNameError as exc:
            raise SuiteError(f"{key}: {exc}") from None
        if not isinstance(params, dict):
            raise SuiteError(f"{key}: expected a table of parameters (lists make a grid), got {params!r}")
        fields = sorted(params)
        empty = [f for f in fields if params[f] == []]
        if empty:
            raise SuiteError(f"{key}.{empty[0]}: the list is empty, so the grid has no cells; give at least one value")
        for combo in itertools.product(*[params[f] if isinstance(params[f], list) else [params[f]] for f in fields]):
            chosen = dict(zip(fields, combo))
            try:
                cls.from_params(chosen, model, dataset)
            except UserError as exc:
                raise SuiteError(f"{key}: {exc}") from None
            out.append((name, chosen))
    return out


def _class_count(label: str, dataset: str, root: Optional[str]) -> int:
    """The number of classes of `dataset` (an undeclared, unreadable dataset is the suite's error)."""
    try:
        return class_count(dataset, root)
    except UserError as exc:
        raise SuiteError(f"{label}: grid.datasets: {exc}") from None


def load_suite(name_or_path: str, data_root: Optional[str] = None, cache_dir: Optional[Path] = None) -> Suite:
    """Reads and validates a suite file; every error names the file and the key."""
    path = resolve_suite_path(name_or_path)
    label = path.name
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise SuiteError(f"{label}: not UTF-8 text (byte {exc.start}); save the suite file as UTF-8") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SuiteError(f"{label}: cannot read TOML: {exc}") from None
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise SuiteError(f"{label}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(TOP_KEYS))}")
    grid = raw.get("grid")
    if not isinstance(grid, dict):
        raise SuiteError(f"{label}: missing [grid] table with datasets, models, forget (and seeds)")
    unknown = sorted(set(grid) - GRID_KEYS)
    if unknown:
        raise SuiteError(f"{label}: grid.{unknown[0]} is not a grid key; allowed: {', '.join(sorted(GRID_KEYS))}")
    for key in ("datasets", "models", "forget"):
        if key not in grid:
            raise SuiteError(f"{label}: grid.{key} is missing")
    datasets = _list(f"{label}: grid.datasets", grid["datasets"], str)
    models = _list(f"{label}: grid.models", grid["models"], str)
    for where, registry, names in (("datasets", DATASETS, datasets), ("models", MODELS, models)):
        for n in names:
            try:
                registry.get(n)
            except UnknownNameError as exc:
                raise SuiteError(f"{label}: grid.{where}: {exc}") from None
    forgets = _forget_sets(f"{label}: grid.forget", grid["forget"])
    seeds = _list(f"{label}: grid.seeds", grid.get("seeds", [0]), int)
    recipe = raw.get("recipe", {})
    if not isinstance(recipe, dict):
        raise SuiteError(f"{label}: recipe must be a table of training-recipe fields")
    shadows = raw.get("mia_shadows", 0)
    if not isinstance(shadows, int) or isinstance(shadows, bool) or shadows < 0:
        raise SuiteError(f"{label}: mia_shadows must be an integer >= 0, got {shadows!r}")
    deep = raw.get("deep_metrics", False)
    if not isinstance(deep, bool):
        raise SuiteError(f"{label}: deep_metrics must be true or false, got {deep!r}")
    defaults = raw.get("defaults", "shipped")
    if defaults not in DEFAULT_CHOICES:
        raise SuiteError(f"{label}: defaults must be one of {', '.join(DEFAULT_CHOICES)}, got {defaults!r}")
    device = raw.get("device", "auto")
    if device not in ("auto", "cpu", "cuda"):
        raise SuiteError(f"{label}: device must be auto, cpu or cuda, got {device!r}")
    for seed in seeds:
        try:
            check_seed(seed, shadows)
        except UserError as exc:
            raise SuiteError(f"{label}: grid.seeds: {exc}") from None
    root = raw.get("data_root", data_root) if data_root is None else data_root
    for dataset in datasets:  # every forget set against every dataset, before any cell runs
        classes = _class_count(label, dataset, root)
        for forget in forgets:
            try:
                forget.check(classes, dataset, classes if has_superclasses(dataset) else None)
            except UserError as exc:
                raise SuiteError(f"{label}: grid.forget: {exc}") from None
    requests, not_applicable = [], 0
    for dataset, model in itertools.product(datasets, models):
        try:
            default_recipe(dataset, model, recipe)
        except UserError as exc:
            raise SuiteError(f"{label}: recipe: {exc}") from None
        methods = tuple(_method_grid(f"{label}: methods", raw.get("methods"), model, dataset))
        for forget, seed in itertools.product(forgets, seeds):
            suited = tuple(m for m in methods if supports(m[0], forget.scenario))
            not_applicable += len(methods) - len(suited)
            if suited:
                requests.append(RunRequest(
                    dataset=dataset, model=model, methods=suited, forget=forget, seed=seed, device=device,
                    data_root=root, cache_dir=cache_dir, recipe=dict(recipe), mia_shadows=shadows,
                    deep_metrics=deep, defaults=defaults))
    requests, warnings = _with_tuned_params(label, raw.get("params"), path, requests)
    population, protocol = raw.get("population", 0), raw.get("protocol", "challenge")
    if not isinstance(population, int) or isinstance(population, bool) or population < 0:
        raise SuiteError(f"{label}: population must be a whole number of models (0: none), got {population!r}")
    if population:
        try:
            check_population(population, protocol, option="")
        except UserError as exc:
            raise SuiteError(f"{label}: {exc}") from None
    return Suite(str(raw.get("name", path.stem)), path, tuple(requests), not_applicable, warnings, population,
                 protocol)


def _with_tuned_params(label: str, value: Any, suite_path: Path, requests: list[RunRequest]
                       ) -> tuple[list[RunRequest], tuple[str, ...]]:
    """The requests with a `params = "FILE"` tuned-parameters file applied (a relative path is the suite's)."""
    if value is None:
        return requests, ()
    if not isinstance(value, str) or not value:
        raise SuiteError(f"{label}: params must be the path of a tuned-parameters file, got {value!r}")
    from unlearnbench.execution.params_file import apply_params, read_params_file

    file = Path(value) if Path(value).is_absolute() else suite_path.parent / value
    try:
        tuned = read_params_file(file)
        applied = [apply_params(tuned, request, explicit_methods=True) for request in requests]
    except UserError as exc:
        raise SuiteError(f"{label}: params: {exc}") from None
    warnings = tuple(dict.fromkeys(w for _, ws in applied for w in ws))
    return [request for request, _ in applied], warnings
