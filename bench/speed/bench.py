"""Speed report: each method's seconds and phases, its ratio to the plain loop doing the same work, and work against peak."""
from __future__ import annotations

import functools
import json
import math
import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import torch
from torch import nn

from unlearnbench.core.errors import DivergedError, UserError
from unlearnbench.execution.cache import ModelCache
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.execution.runner import (RunRequest, build_methods, prepare_setting, setting_threads,
                                 warm_up)
from unlearnbench.execution.setting import Setting, member_kind
from unlearnbench.models.batched import batchable, fit_batched, population_threads
from unlearnbench.models.inference import predict
from unlearnbench.models.plain import dataloader_epoch, dataloader_predict, plain_optimizer
from unlearnbench.models.training import fit, recipe_optimizer, train_steps
from unlearnbench.reports.table import grid, markdown_table
from unlearnbench.timing.contention import LoadWatch
from unlearnbench.timing.environment import collect_environment, device_name
from unlearnbench.timing.timer import PhaseTimer, synchronize

# Largest square product used to measure a device's peak: a GPU needs 8192^2 operands to reach its rate (a 2048^2
# bf16 product takes ~20 us on an H200, below the cost of the synchronisation that times it).
PEAK_SIZES = {"cpu": 2048, "cuda": 8192}
PEAK_START = 256  # first size tried; doubled while one product stays short
PEAK_SECONDS = 1.0  # how long to keep measuring it
PEAK_DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16}  # peak precision -> dtype
PROFILE_TOP = 10  # operators listed per profiled method
RECORD_FORMAT = 1  # version of the saved speed record's fields
SPEED_HEADER = ["what", "seconds", "plain loop s", "ratio", "samples/s", "GFLOP", "GFLOP/s", "% of peak", "phases (s)"]


def _matmul_seconds(a: torch.Tensor, b: torch.Tensor, device: torch.device) -> float:
    synchronize(device)
    t0 = time.perf_counter()
    a @ b
    synchronize(device)
    return time.perf_counter() - t0


def matmul_peak(device: torch.device, dtype: torch.dtype = torch.float32) -> float:
    """Measured matmul throughput of `device` in `dtype`, in GFLOP/s (best of repeated large products).

    The size doubles from PEAK_START to the device's PEAK_SIZES entry while one product takes under a tenth of the budget, so a dtype
    without hardware support (bf16 on a CPU lacking AVX-512 BF16 takes about a minute per 2048^2 product) is
    measured within PEAK_SECONDS too.
    """
    size, largest = PEAK_START, PEAK_SIZES.get(device.type, PEAK_SIZES["cpu"])
    while True:
        a = torch.randn(size, size, device=device, dtype=dtype)
        b = torch.randn(size, size, device=device, dtype=dtype)
        first = _matmul_seconds(a, b, device)
        if size >= largest or first > PEAK_SECONDS / 10:
            break
        size *= 2
    best, start = first, time.perf_counter()
    while time.perf_counter() - start < PEAK_SECONDS:
        best = min(best, _matmul_seconds(a, b, device))
    return 2 * size**3 / best / 1e9


def peak_precision(setting: Setting) -> str:
    """The arithmetic the setting's products run in: its recipe's precision, or tf32 for fp32 convolutions on CUDA.

    cuDNN runs fp32 convolutions on TF32 tensor cores by default (torch.backends.cudnn.allow_tf32), about 8x the
    rate of plain fp32 products on an H100/H200: a conv model's share is only meaningful against the TF32 peak.
    """
    conv = any(isinstance(m, nn.Conv2d) for m in setting.new_model().modules())
    if (setting.recipe.precision == "fp32" and setting.data.device.type == "cuda" and conv
            and torch.backends.cudnn.allow_tf32):
        return "tf32"
    return setting.recipe.precision


@contextmanager
def _tf32_products(enabled: bool) -> Iterator[None]:
    """Matrix products on TF32 tensor cores inside the block when `enabled`."""
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = enabled or before
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


class FlopCounter:
    """Counts the matrix-product FLOPs of every Linear and Conv2d call (forward, weight grad, input grad) and the
    samples passed through outermost module calls (one model forward each)."""

    def __init__(self) -> None:
        self.flops = 0.0
        self.samples = 0
        self._depth = 0  # modules currently inside their forward: 0 before a model's outermost call

    def _enter(self, module: nn.Module, inputs: tuple) -> None:
        if self._depth == 0 and inputs and isinstance(inputs[0], torch.Tensor) and inputs[0].dim() > 0:
            self.samples += inputs[0].shape[0]
        self._depth += 1

    def _hook(self, module: nn.Module, inputs: tuple, output: Any) -> None:
        self._depth -= 1
        if isinstance(module, nn.Linear):
            macs = output.numel() * module.in_features
        elif isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            macs = output.numel() * module.in_channels // module.groups * kh * kw
        else:
            return
        passes = 1
        if torch.is_grad_enabled():  # backward adds a GEMM per gradient it must produce
            passes += bool(module.weight.requires_grad) + bool(inputs and inputs[0].requires_grad)
        self.flops += 2.0 * macs * passes

    @contextmanager
    def counting(self) -> Iterator["FlopCounter"]:
        """Counts while the block runs (every module, whichever model)."""
        handles = [nn.modules.module.register_module_forward_pre_hook(self._enter),
                   nn.modules.module.register_module_forward_hook(self._hook)]
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()


@dataclass
class SpeedRow:
    """One line of the speed report."""

    name: str
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    plain_seconds: Optional[float] = None
    gflop: float = 0.0
    samples: int = 0  # samples through the model (forward passes), for samples/s
    error: str = ""  # why the method could not be timed (it diverged); its numbers are then nan
    threads: Optional[int] = None  # set where the row ran on other threads than the report's (the population)
    peak: Optional[float] = None  # the matmul peak measured at `threads`: the row's share is against it

    @classmethod
    def measured(cls, name: str, seconds: float, counter: FlopCounter, **extra: Any) -> "SpeedRow":
        """A row from a timed run and the counter that watched it."""
        return cls(name, seconds, gflop=counter.flops / 1e9, samples=counter.samples, **extra)


def _counted(fn: Callable[[], Any]) -> FlopCounter:
    """The work of one untimed (warm-up) call of `fn`.

    Work is counted outside the timed calls: the counter's per-module hooks cost Python time (more so against a
    GPU's asynchronous kernels) that must not enter the measured seconds.
    """
    counter = FlopCounter()
    with counter.counting():
        fn()
    return counter


def _timed(device: torch.device, fn: Callable[[], Any], repeat: int) -> tuple[float, FlopCounter]:
    """(best seconds of `repeat` calls, the work of one call counted in a warm-up call)."""
    work = _counted(fn)
    best = float("inf")
    for _ in range(repeat):
        synchronize(device)
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return best, work


def _unlearn_once(setting: Setting, method) -> tuple[float, dict[str, float]]:
    """One timed run of `method` on the original model: (seconds, phases)."""
    timer = PhaseTimer(setting.data.device)
    ctx = UnlearnContext.for_method(method, setting, timer)
    model = setting.trained("original").model
    setting.reset_all_but_original()  # with speed_report's scratch cache, retrain (and its kin) train every time
    timer.start()
    method.unlearn(model, ctx)
    return timer.stop(), dict(timer.phases)


def _method_row(setting: Setting, method, repeat: int) -> SpeedRow:
    """A method's best seconds and phases over `repeat` runs, its work, and its plain loop's best seconds."""

    unlearn_once = functools.partial(_unlearn_once, setting, method)
    work = _counted(unlearn_once)
    seconds, phases = min((unlearn_once() for _ in range(repeat)), key=lambda run: run[0])
    row = SpeedRow.measured(method.name, seconds, work, phases=phases)
    plain = type(method).plain_loop
    if plain is not None:
        row.plain_seconds, _ = _timed(setting.data.device,
                                      lambda: plain(setting.trained("original").model, method.cfg, setting), repeat)
    return row


def _epoch_row(setting: Setting, repeat: int) -> SpeedRow:
    """The training epoch against the plain DataLoader epoch."""
    data, recipe = setting.data, setting.recipe
    model, plain_model = setting.new_model(), setting.new_model()
    # A tenth of the recipe's lr: repeated epochs from one start must not drift into divergence.
    opt = recipe_optimizer(model.parameters(), recipe, lr_scale=0.1)
    plain_opt = plain_optimizer(plain_model, recipe, lr_scale=0.1)
    gen = setting.generator("original.order")
    epoch_s, work = _timed(data.device, lambda: train_steps(
        model, data.x_train, data.y_train, opt, batch_size=recipe.batch_size, generator=gen), repeat)
    plain_s, _ = _timed(data.device, lambda: dataloader_epoch(plain_model, data.x_train, data.y_train, plain_opt,
                                                            recipe.batch_size, seed=0), repeat)
    return SpeedRow.measured("train epoch", epoch_s, work, plain_seconds=plain_s)


def _population_row(setting: Setting, size: int, precision: str, repeat: int, peak: float) -> SpeedRow:
    """`size` retrained members trained as one stacked model against the same members trained one by one (each
    way on the threads it trains on: the setting's, and every free core for the stacks), both in each of `repeat`
    rounds, the best of each kept; the row's share of peak is against the peak at the stacks' threads (`peak`,
    the report's, where those are the report's own or the device is a GPU)."""
    data, split, recipe = setting.data, setting.split, setting.recipe
    x, y = data.x_train[split.retain_train], data.y_train[split.retain_train]
    first = member_kind("retrain", 0)
    work = _counted(lambda: fit(setting.new_model(f"{first}.init"), x, y, recipe, setting.generator(f"{first}.order"),
                                augment=data.augment))
    threads = population_threads()
    if data.device.type == "cpu" and threads != torch.get_num_threads():
        peak = _peak_at(threads, data.device, precision)

    def fresh() -> tuple[list[nn.Module], list[torch.Generator]]:
        kinds = [member_kind("retrain", i) for i in range(size)]
        return [setting.new_model(f"{k}.init") for k in kinds], [setting.generator(f"{k}.order") for k in kinds]

    one_by_one = stacked = math.inf
    for _ in range(repeat):  # interleaved, so both sides see the same spells of machine noise
        models, generators = fresh()
        synchronize(data.device)
        t0 = time.perf_counter()
        for model, generator in zip(models, generators):
            fit(model, x, y, recipe, generator, augment=data.augment)
        synchronize(data.device)
        one_by_one = min(one_by_one, time.perf_counter() - t0)
        models, generators = fresh()
        t0 = time.perf_counter()
        fit_batched(models, x, y, recipe, generators, data.augment, threads=threads)
        synchronize(data.device)
        stacked = min(stacked, time.perf_counter() - t0)
    return SpeedRow(f"population {size} (one batch)", stacked, plain_seconds=one_by_one,
                    gflop=size * work.flops / 1e9, samples=size * work.samples, threads=threads, peak=peak)


def _peak_at(threads: int, device: torch.device, precision: str) -> float:
    """The matmul peak measured on `threads` CPU threads (a GPU's does not depend on them)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with _tf32_products(precision == "tf32"):
            return matmul_peak(device, PEAK_DTYPES[precision])
    finally:
        torch.set_num_threads(before)


def _eval_row(setting: Setting, repeat: int) -> SpeedRow:
    """The evaluation pass (always fp32) against a DataLoader evaluation loop."""
    data, model = setting.data, setting.trained("original").model
    eval_s, work = _timed(data.device, lambda: predict(model, data.x_train), repeat)
    plain_s, _ = _timed(data.device, lambda: dataloader_predict(model, data.x_train), repeat)
    return SpeedRow.measured("eval pass", eval_s, work, plain_seconds=plain_s)


@dataclass(frozen=True)
class SpeedReport:
    """What `unlearnbench bench` measured: the peak, a row per method plus the epoch and eval pass, and the
    conditions (threads, machine load) they were measured under."""

    peak: float  # measured matmul GFLOP/s in peak_precision
    peak_precision: str
    rows: list[SpeedRow]
    setting: Setting
    threads: int
    load: dict[str, Any]
    profiles: dict[str, str] = field(default_factory=dict)  # method -> its top operators, when asked for


def profile_method(setting: Setting, method, top: int = PROFILE_TOP) -> str:
    """The `top` operators of one run of `method` by self time on its device (torch.profiler), as a table."""
    os.environ.setdefault("KINETO_LOG_LEVEL", "5")  # else Kineto logs a misleading GPU-count error on CPU machines
    from torch.profiler import ProfilerActivity, profile

    device = setting.data.device
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        _unlearn_once(setting, method)
        synchronize(device)
    sort_by = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=sort_by, row_limit=top)


def speed_report(request: RunRequest, repeat: int = 1, progress: Optional[Callable[..., None]] = None,
                 profiled: bool = False, population: int = 0) -> SpeedReport:
    """Times every requested method beside its plain loop, then the training epoch and the eval pass, and with
    `population` N retrained members as one stacked model against one by one."""
    methods = build_methods(request)
    with setting_threads(request):
        setting = prepare_setting(request, progress)
        warm_up(setting)
        setting.trained("original", progress)
        watch = LoadWatch()
        precision = peak_precision(setting)
        peak = _peak_at(torch.get_num_threads(), setting.data.device, precision)
        rows, profiles = [], {}
        # The plain loops run in the same precision.
        with tempfile.TemporaryDirectory() as scratch, setting.autocast():
            for method in methods:
                setting.cache = ModelCache(tempfile.mkdtemp(dir=scratch))  # empty: retrain is measured, not reused
                if progress:
                    progress(f"timing {method.name}")
                try:
                    rows.append(_method_row(setting, method, repeat))
                except DivergedError as exc:  # one method's failure is a row, not the end of the report
                    rows.append(SpeedRow(method.name, float("nan"), error=str(exc)))
                    continue
                if profiled:  # after the timed runs: the profiler's own overhead never enters a row
                    profiles[method.name] = profile_method(setting, method)
            if progress:
                progress("timing the training epoch and evaluation pass")
            rows.append(_epoch_row(setting, repeat))
            if population:
                if not batchable(setting.new_model()):
                    raise UserError(f"--population: {setting.model} does not stack (it has dropout, whose draws "
                                    f"could not be each member's own); its members train one by one, so there is "
                                    f"nothing to compare")
                if progress:
                    progress(f"timing {population} retrained members one by one and as one batch")
                rows.append(_population_row(setting, population, precision, repeat, peak))
        rows.append(_eval_row(setting, repeat))
        return SpeedReport(peak, precision, rows, setting, torch.get_num_threads(), watch.finish(), profiles)


def speed_record(report: SpeedReport, command: str = "") -> dict[str, Any]:
    """The report as a JSON-ready record (what `bench --save` writes and `bench --show` prints), with the machine it
    was measured on and, where given, the command that measured it."""
    setting, device = report.setting, report.setting.data.device
    return {"format": RECORD_FORMAT, "command": command,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "setting": f"{setting.dataset}/{setting.model} forget {setting.forget.label}", "device": str(device),
            "device_name": device_name(device), "threads": report.threads, "peak": report.peak,
            "peak_precision": report.peak_precision, "precision": setting.recipe.precision, "load": report.load,
            "rows": [asdict(r) for r in report.rows], "profiles": report.profiles,
            "environment": collect_environment(device)}


def save_speed_record(record: dict[str, Any], path: Path) -> None:
    """Writes `record` as JSON to `path` (its folder created); a one-line UserError where it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1, default=float) + "\n")
    except OSError as exc:
        raise UserError(f"cannot save the speed report to {str(path)!r}: {exc.strerror or exc}") from None


def load_speed_record(path: Path) -> dict[str, Any]:
    """A record saved by `bench --save`; a one-line UserError for a missing or foreign file."""
    try:
        record = json.loads(Path(path).read_text())
    except OSError as exc:
        raise UserError(f"cannot read the speed report {str(path)!r}: {exc.strerror or exc}") from None
    except json.JSONDecodeError:
        raise UserError(f"{str(path)!r} is not JSON: save a speed report with `unlearnbench bench --save FILE`") \
            from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise UserError(f"{str(path)!r} is not a speed report saved by `unlearnbench bench --save` "
                        f"(format {RECORD_FORMAT})")
    return record


def _cells(row: dict[str, Any], peak: float) -> list[str]:
    if row.get("error"):
        return [row["name"], *["-"] * (len(SPEED_HEADER) - 2), row["error"]]
    seconds, plain, gflop, peak = row["seconds"], row["plain_seconds"], row["gflop"], row.get("peak") or peak
    rate = gflop / seconds if seconds > 0 else 0.0
    return [row["name"], f"{seconds:.3f}", f"{plain:.3f}" if plain else "-",
            f"{plain / seconds:.2f}x" if plain and seconds else "-",
            f"{row['samples'] / seconds:,.0f}" if row["samples"] and seconds else "-", f"{gflop:.1f}",
            f"{rate:.0f}" if gflop else "-", f"{100 * rate / peak:.0f}%" if gflop else "-",
            " ".join(f"{k}={v:.3f}" for k, v in row["phases"].items()) or "-"]


def _speed_notes(record: dict[str, Any]) -> list[str]:
    notes = ["ratio = plain-loop seconds / harness seconds (plain DataLoader loop of the same recipe, same run; for "
             "the population row, the same members trained one by one with the harness's loop); "
             "GFLOP counts Linear/Conv products: forward + weight grad + input grad where computed",
             "samples/s counts samples through the model's forward; at 100 % of peak it would be "
             "samples/s x 100 / (% of peak)"]
    for row in record["rows"]:
        if row.get("threads") and row["threads"] != record["threads"]:
            notes.append(f"{row['name']} trained on {row['threads']} threads (its members one by one on "
                         f"{record['threads']}); its share is against the peak measured on {row['threads']} threads, "
                         f"{row['peak']:.0f} GFLOP/s")
    if any(row["gflop"] / row["seconds"] > (row.get("peak") or record["peak"]) for row in record["rows"]
           if row["gflop"] and row["seconds"]):
        notes.append("a share above 100 % means this run's peak measurement (square products, once) came out low")
    if record["load"]["busy"]:
        notes.append(f"busy machine: other processes used {record['load']['other_cpu_cores']:.2f} cores on average "
                     "while this ran; seconds are inflated (ratios less so: both sides ran under the same load)")
    if record["peak_precision"] == "tf32":
        notes.append("fp32 convolutions run on TF32 tensor cores (cuDNN's default, torch.backends.cudnn.allow_tf32), "
                     "so the peak is that of TF32 products")
    if record["precision"] != "fp32":
        notes.append(f"methods, plain loops and the epoch ran under {record['precision']} autocast; "
                     "the eval pass runs in fp32 (as metrics do), so its % is against the same peak only nominally")
    return notes


def format_speed(record: dict[str, Any], format: str = "text") -> str:
    """A speed record (`speed_record`, or one `load_speed_record` read) as a fixed-width table (`text`) or Markdown
    (`md`)."""
    peak = record["peak"]
    threads = f"{record['threads']} thread{'s' if record['threads'] != 1 else ''}"
    title = (f"{record['setting']} on {record['device']} ({record['device_name']}, {threads}); "
             f"measured {record['peak_precision']} matmul peak {peak:.0f} GFLOP/s")
    lines = [_cells(row, peak) for row in record["rows"]]
    if format == "md":
        provenance = f"`{record['command']}`, " if record["command"] else ""
        table = markdown_table(SPEED_HEADER, lines, left=(0, len(SPEED_HEADER) - 1))
        notes = [line for note in _speed_notes(record) for line in ("", f"{note[0].upper()}{note[1:]}.")]
        return "\n".join([f"Measured: {title}; {provenance}{record['date']}.", ""] + table + notes)
    profiles = [f"\n{name}: top {PROFILE_TOP} operators by self time (one untimed run, torch.profiler)\n{table}"
                for name, table in record["profiles"].items()]
    return "\n".join([title, ""] + grid(SPEED_HEADER, lines) + [""] + _speed_notes(record) + profiles)
