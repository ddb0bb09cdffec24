"""Runs benchmark cells: prepare a setting, time each method's `unlearn`, score it, store the row."""
from __future__ import annotations

import traceback
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
import hashlib
import json
import pickle
from typing import Any, Callable, Iterator, Mapping, Optional, Union

import torch
import torch.nn.functional as F

from unlearnbench.core.config import config_dict, config_hash
from unlearnbench.core.defaults import DEFAULT_METHODS
from unlearnbench.core.errors import DataAccessError, DivergedError, UserError
from unlearnbench.core.method import METHODS, Method, supports
from unlearnbench.core.shipped import CHOICES as DEFAULT_CHOICES
from unlearnbench.data.forget import ForgetSpec, Split
from unlearnbench.data.loading import DATASETS, load_data
from unlearnbench.execution.cache import ModelCache, default_cache_dir
from unlearnbench.execution.context import Checkpoint, UnlearnContext
from unlearnbench.execution.evaluate import Reference, build_reference, stage_accuracies, score
from unlearnbench.execution.saved_models import file_digest, save_model
from unlearnbench.execution.setting import Progress, Setting
from unlearnbench.execution.store import ResultStore
from unlearnbench.metrics import DEFINITIONS_VERSION
from unlearnbench.metrics.lira import check_shadow_count
from unlearnbench.models.architectures import MODELS
from unlearnbench.models.recipes import Recipe, default_recipe, recipe_identity
from unlearnbench.models.training import make_optimizer, train_steps
from unlearnbench.timing.contention import LoadWatch
from unlearnbench.timing.environment import collect_environment
from unlearnbench.timing.threads import cpu_threads, threads_now
from unlearnbench.timing.timer import PhaseTimer, peak_memory_bytes

WARM_UP_ROWS = 256  # train rows the warm-up steps on: two batches of 128
MAX_SEED = 2**32 - 1  # NumPy's generators (the MIA subsamples) take 32-bit seeds
MIN_PART = 2  # samples each of forget/retain x train/test needs: the loss attack cross-validates over >= 2 folds
MethodEntry = Union[str, tuple[str, Mapping[str, Any]]]  # a name (params from RunRequest.params) or (name, params)
RowSink = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class RunRequest:
    """One `unlearnbench run`: a setting and the methods to run on it."""

    dataset: str = "digits"
    model: str = "mlp"
    methods: tuple[MethodEntry, ...] = DEFAULT_METHODS
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # method name -> overrides
    forget: ForgetSpec = ForgetSpec()  # a spec string or class ids are accepted and parsed
    seed: int = 0
    device: str = "auto"
    data_root: Optional[str] = None
    download: bool = False
    cache_dir: Optional[Path] = None
    recipe: dict[str, Any] = field(default_factory=dict)  # overrides of the default training recipe
    mia_shadows: int = 0  # shadow models per side for the per-example attack (0: off)
    deep_metrics: bool = False  # relearning and representation probes (bench/metrics/deep.py)
    # method name -> provenance of its tuned parameters (params_file.TunedParams.provenance); such rows are "tuned"
    tuned: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: int = 0  # CPU threads (0: the measured choice for the dataset/model, unlearnbench.timing.threads)
    remeasure_retrain: bool = False  # train and time the retrained model again even when it is cached
    # Methods that do not support the forget spec's scenario: skipped (the default list, suites) or refused (an
    # explicit --methods list).
    skip_unsupported: bool = False
    save_models: Optional[str] = None  # folder to keep every unlearned model in (unlearnbench.execution.saved_models)
    original: Optional[str] = None  # the user's own original model (a state-dict checkpoint) instead of training one
    retrained: Optional[str] = None  # the user's own retrained reference (else trained with the setting's recipe)
    # (name, pickled Method class) of methods defined where a worker cannot import them (a notebook's function
    # methods): registered in the worker before the methods are built (unlearnbench.core.function_method.definitions)
    definitions: tuple[tuple[str, bytes], ...] = ()
    # "shipped": each method's shipped-tuned values where a file has them for the setting (core.shipped), else its
    # authors'; "paper": the authors' values everywhere
    defaults: str = "shipped"

    def __post_init__(self) -> None:
        object.__setattr__(self, "forget", ForgetSpec.parse(self.forget))
        if self.defaults not in DEFAULT_CHOICES:
            raise UserError(f"--defaults {self.defaults!r} is not one of {', '.join(DEFAULT_CHOICES)}")

    def method_specs(self) -> list[tuple[str, dict[str, Any]]]:
        """(name, parameter overrides) of every method to run, in order."""
        return [(m, dict(self.params.get(m, {}))) if isinstance(m, str) else (m[0], dict(m[1])) for m in self.methods]


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when available; asking for an absent CUDA is a UserError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise UserError(f"--device {name!r} is not one of auto, cpu, cuda")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but torch sees no CUDA device; use --device cpu or auto")
    return torch.device(name)


def register_definitions(request: RunRequest) -> None:
    """In a worker: registers the methods the driver's session defined and shipped with the request."""
    for name, blob in request.definitions:
        if name not in METHODS:
            METHODS.add(name, pickle.loads(blob))


def build_methods(request: RunRequest) -> list[Method]:
    """Instantiates every requested method with validated hyperparameters, before any work starts."""
    register_definitions(request)
    specs = request.method_specs()
    names = [name for name, _ in specs]
    stray = sorted(set(request.params) - set(names))
    if stray:
        raise UserError(f"parameters given for {', '.join(stray)}, which is not among --methods {','.join(names)}")
    if not specs:
        raise UserError("no methods to run: give --methods, e.g. --methods original,unsir")
    methods = [METHODS.get(name).from_params(params, request.model, request.dataset, request.forget.scenario,
                                             request.defaults) for name, params in specs]
    unsupported = not_applicable(request)
    if unsupported and not request.skip_unsupported:
        name = unsupported[0]
        raise UserError(f"{name} does not support {request.forget.scenario} forgetting ({request.forget.label}): it "
                        f"supports {', '.join(sorted(METHODS.get(name).scenarios))}; leave it out of --methods")
    methods = [m for m in methods if m.name not in unsupported]
    seen: set[tuple[str, str]] = set()
    for method in methods:
        if (method.name, config_hash(method.cfg)) in seen:
            raise UserError(f"--methods lists {method.name} twice with the same parameters: name each method once")
        seen.add((method.name, config_hash(method.cfg)))
    return methods


def not_applicable(request: RunRequest) -> list[str]:
    """The requested methods that do not suit the request's forgetting scenario (skipped, shown as n/a)."""
    return [name for name, _ in request.method_specs() if not supports(name, request.forget.scenario)]


def check_seed(seed: int, shadows: int = 0) -> None:
    """Raises UserError unless `seed` (and the shadow seeds after it) fit the generators' 32-bit range."""
    if not 0 <= seed <= MAX_SEED - shadows:
        raise UserError(f"seed {seed} is out of range: use 0..{MAX_SEED - shadows}"
                        + (f" (the {shadows} shadow models take the seeds after it)" if shadows else ""))


def check_split(split: Split, request: RunRequest, recipe: Recipe) -> None:
    """Raises UserError when a part of the split is too small to train or score (e.g. a tiny train subset)."""
    for part in ("forget_train", "retain_train", "forget_test", "retain_test"):
        count = len(getattr(split, part))
        if count < MIN_PART:
            subset = (f"; --recipe train_subset={recipe.train_subset} keeps too few train samples, raise it"
                      if recipe.train_subset and part.endswith("_train") else "")
            raise UserError(f"{request.dataset} forget {request.forget.label}: the {part} part has "
                            f"{count} sample(s), fewer than the {MIN_PART} needed to score it{subset}")


def supplied_models(request: RunRequest) -> dict[str, str]:
    """kind -> checkpoint path of the models the user brings ("original", "retrain")."""
    return {kind: path for kind, path in (("original", request.original), ("retrain", request.retrained)) if path}


def setting_identity(request: RunRequest) -> dict[str, Any]:
    """What makes a setting itself: dataset, model, forget spec, seed, recipe and device kind (part of every key),
    and the hashes of any model the user brought."""
    identity = {"dataset": request.dataset, "model": request.model, "forget": request.forget.stored,
                "seed": request.seed,
                "recipe": recipe_identity(default_recipe(request.dataset, request.model, request.recipe)),
                "device": resolve_device(request.device).type}
    for kind, path in supplied_models(request).items():  # only when brought: other keys stay as they were
        identity[f"supplied_{kind}"] = file_digest(path) if Path(path).is_file() else str(path)
    return identity


def failure_reason(exc: BaseException) -> str:
    """An unexpected exception as one line: its type, message and the file and line it came from."""
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    return f"{type(exc).__name__}: {exc} ({Path(frame.filename).name}:{frame.lineno})"


def cell_key(request: RunRequest, method: Method) -> str:
    """A stable identity of one cell: setting, recipe, device kind, method, its version and config."""
    payload = {**setting_identity(request), "mia_shadows": request.mia_shadows, "method": method.name,
               "version": method.version, "params": config_dict(method.cfg)}
    if request.deep_metrics:  # only when on: cells stored before deep metrics keep their identity
        payload["deep_metrics"] = True
    if method.name in request.tuned:  # a tuned cell is another cell than a default one, even with equal params
        payload["tuned"] = request.tuned[method.name]["sha"]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:20]


def prepare_setting(request: RunRequest, progress: Optional[Progress] = None) -> Setting:
    """Loads the data, checks the forget spec, and sets up the model cache."""
    device = resolve_device(request.device)
    recipe = default_recipe(request.dataset, request.model, request.recipe)
    DATASETS.get(request.dataset)  # fail on bad names before any loading
    MODELS.get(request.model)
    if progress:
        progress(f"loading {request.dataset} onto {device}")
    check_seed(request.seed, request.mia_shadows)
    data = load_data(request.dataset, device, request.data_root, request.download).with_validation(recipe.val_fraction)
    spec = request.forget
    spec.check(data.num_classes, request.dataset, data.fine_classes)
    if spec.scenario == "subclass":
        data = data.as_superclasses()
    if recipe.train_subset:
        data = data.train_subset(recipe.train_subset)
    split = spec.split(data.y_train, data.y_test, request.seed, data.fine_train, data.fine_test, request.dataset)
    check_split(split, request, recipe)
    return Setting(
        dataset=request.dataset, model=request.model, forget=request.forget, seed=request.seed, recipe=recipe,
        data=data, split=split,
        cache=ModelCache(request.cache_dir or default_cache_dir()),
        remeasure=frozenset({"retrain"}) if request.remeasure_retrain else frozenset(),
        supplied=supplied_models(request),
    )


@contextmanager
def setting_threads(request: RunRequest) -> Iterator[int]:
    """Runs the block with the setting's CPU thread count (see unlearnbench.timing.threads), less the cores other processes
    use as it starts; yields the count before that reduction, which each cell measures against again."""
    before = torch.get_num_threads()
    if request.threads < 0:
        raise UserError(f"--threads {request.threads} must be 0 (automatic) or a positive count")
    if request.threads:
        chosen = request.threads
    elif resolve_device(request.device).type == "cpu":
        chosen = cpu_threads(request.dataset, request.model, before)
    else:
        chosen = before  # on a GPU the host threads only feed it
    torch.set_num_threads(_under_load(request, chosen))
    try:
        yield chosen
    finally:
        torch.set_num_threads(before)


def _under_load(request: RunRequest, chosen: int) -> int:
    """`chosen` less the cores other processes use right now (automatic threads on the CPU only)."""
    if request.threads or resolve_device(request.device).type != "cpu":
        return chosen
    return threads_now(chosen)


def warm_up(setting: Setting) -> None:
    """Untimed steps that pay, once per process, every cost a method's first step would otherwise carry.

    The first construction of any torch optimiser imports torch._dynamo and sympy (about 1.4 s here); kernel
    selection and allocator growth happen on first use. Each lands inside whichever method runs first unless it is
    paid here: SGD and Adam steps through the training loop, and an input-gradient step with frozen weights.
    """
    model = setting.new_model()
    x, y = setting.data.x_train[:WARM_UP_ROWS], setting.data.y_train[:WARM_UP_ROWS]
    generator = setting.generator("warm_up")
    with setting.autocast():
        for kind in ("sgd", "adam"):
            train_steps(model, x, y, make_optimizer(model.parameters(), kind, 1e-3), batch_size=len(x) // 2,
                        generator=generator, augment=setting.data.augment)
        model.eval().requires_grad_(False)
        noise = torch.zeros_like(x, requires_grad=True)
        F.cross_entropy(model(noise), y).backward()
        make_optimizer([noise], "adam", 1e-3).step()


def apply_method(setting: Setting, method: Method, on_checkpoint: Optional[Checkpoint] = None
                 ) -> tuple[torch.nn.Module, PhaseTimer, UnlearnContext]:
    """Runs `method.unlearn` on a fresh copy of the original model, timed; returns the model, timer and context."""
    timer = PhaseTimer(setting.data.device)
    ctx = UnlearnContext.for_method(method, setting, timer, on_checkpoint)
    model = setting.trained("original").model
    timer.start()
    with setting.autocast():
        model = method.unlearn(model, ctx)
    timer.stop()
    return model, timer, ctx


def run_cell(setting: Setting, method: Method, run_id: str, env: dict[str, Any],
             reference: Reference, key: Optional[str] = None, tuned: Optional[dict[str, Any]] = None,
             models_dir: Optional[str] = None) -> dict[str, Any]:
    """Runs one method on `setting` and returns its result row (status 'failed' on any error)."""
    row: dict[str, Any] = {
        "run_id": run_id, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": setting.dataset, "model": setting.model, "forget": setting.forget.stored, "seed": setting.seed,
        "method": method.name, "method_version": method.version, "params": config_dict(method.cfg),
        "params_hash": config_hash(method.cfg), "access": sorted(method.access), "env": env,
        "recipe": recipe_identity(setting.recipe), "phases": {}, "reused_phases": [], "metrics": {},
        "status": "ok", "error": None, "time_s": None, "peak_mem_bytes": None, "cell_key": key, "tuned": tuned,
        "role": method.role, "scenarios": sorted(method.scenarios), "definitions": DEFINITIONS_VERSION,
        "defaults": method.defaults_source,
    }
    stages: dict[str, float] = {}

    def on_checkpoint(stage: str, model: torch.nn.Module) -> None:
        stages.update({f"{k}@{stage}": v for k, v in stage_accuracies(model, setting).items()})

    try:
        watch = LoadWatch()
        model, timer, ctx = apply_method(setting, method, on_checkpoint)
        row["time_s"] = timer.total
        # Per cell: what else ran meanwhile, and where any reused seconds (its own, and the speedup's
        # denominator) were measured.
        row["env"] = {**env, "load": watch.finish(), "reused_measurements": dict(timer.reused),
                      "retrain_seconds_reused_from": reference.seconds_reused_from}
        row["peak_mem_bytes"] = peak_memory_bytes(setting.data.device)
        row["phases"], row["reused_phases"] = dict(timer.phases), sorted(timer.reused)
        row["metrics"] = {**score(model, setting, reference, row["time_s"]), **stages, **ctx.logged}
        if models_dir is not None:
            row["env"]["saved_model"] = save_model(model, Path(models_dir), row, setting.data.input_shape,
                                                   setting.data.num_classes)
    except (DivergedError, DataAccessError, UserError) as exc:
        row.update(status="failed", error=str(exc))
    except Exception as exc:  # a broken method fails its own cell; the others still run
        row.update(status="failed", error=failure_reason(exc))
    if setting.supplied:  # which checkpoints the user brought, by hash
        row["env"] = {**row["env"], "supplied": {kind: file_digest(p) for kind, p in setting.supplied.items()}}
    return row


def execute(request: RunRequest, on_row: RowSink, progress: Optional[Progress] = None,
            run_id: Optional[str] = None) -> list[dict[str, Any]]:
    """Runs every requested method on the setting, handing each row to `on_row` as soon as it is done."""
    methods = build_methods(request)
    check_shadow_count(request.mia_shadows)  # before any training
    with setting_threads(request) as chosen:
        setting = prepare_setting(request, progress)
        warm_up(setting)  # first: the retrained model's training seconds are a measurement too
        setting.trained("original", progress)
        reference = build_reference(setting, progress, request.mia_shadows, request.deep_metrics)
        # The cache holding this setting's original and retrained models: rescore measures against the same ones.
        env = {**collect_environment(setting.data.device), "cache_dir": str(setting.cache.root.resolve())}
        run_id = run_id or uuid.uuid4().hex[:12]
        rows = []
        for i, method in enumerate(methods, 1):
            if progress:
                progress(f"[{i}/{len(methods)}] {method.name}")
            threads = _under_load(request, chosen)
            torch.set_num_threads(threads)  # setting_threads restores the caller's count at the end
            row = run_cell(setting, method, run_id, env, reference, cell_key(request, method),
                           request.tuned.get(method.name), request.save_models)
            row["env"]["cell_threads"] = threads
            on_row(row)
            rows.append(row)
    return rows


def run(request: RunRequest, store: ResultStore, progress: Optional[Progress] = None) -> list[dict[str, Any]]:
    """Runs every requested method on the setting, storing each row (one transaction) as soon as it is done."""

    def store_row(row: dict[str, Any]) -> None:
        row["id"] = store.insert(row)

    return execute(request, store_row, progress)
