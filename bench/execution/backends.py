"""Execution backends of a sweep: in this process (optionally a process pool) or Ray tasks."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any, Callable, Optional, Sequence

from unlearnbench.core.errors import UserError
from unlearnbench.core.registry import Registry
from unlearnbench.execution.progress import SweepProgress
from unlearnbench.execution.runner import RunRequest, execute

Backend = Callable[..., None]
BACKENDS: Registry[Backend] = Registry("backend")
RowSink = Callable[[dict[str, Any]], None]


def _pooled(threads: int, fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)` in a pool worker with `threads` torch threads (0: torch's default)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    return fn(*args)


def map_tasks(fn: Callable[..., Any], jobs: Sequence[tuple], on_result: Callable[[tuple, Any], None], *,
              backend: str = "local", workers: int = 1, address: Optional[str] = None,
              on_start: Optional[Callable[[tuple], None]] = None) -> None:
    """Runs `fn(*job)` for every job here (workers=1), in a pool of `workers` spawned processes, or as Ray tasks (at
    most `workers` at a time, one GPU each where the cluster has GPUs), calling `on_result(job, result)` as each
    finishes. A worker's UserError is raised as itself."""
    if backend == "ray":
        _map_ray(fn, jobs, on_result, workers, address, on_start)
        return
    if workers <= 1:
        for job in jobs:
            if on_start:
                on_start(job)
            on_result(job, fn(*job))
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(_pooled, threads, fn, *job): job for job in jobs}
        for job in jobs:
            if on_start:
                on_start(job)
        for future in as_completed(futures):
            on_result(futures[future], future.result())


def _map_ray(fn: Callable[..., Any], jobs: Sequence[tuple], on_result: Callable[[tuple, Any], None], workers: int,
             address: Optional[str], on_start: Optional[Callable[[tuple], None]]) -> None:
    try:
        import ray
    except ImportError:
        raise UserError("--backend ray needs Ray: pip install 'unlearnbench[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        task = ray.remote(num_cpus=1, num_gpus=1 if gpus else 0)(fn)
        queue, running = list(jobs), {}
        while queue or running:
            while queue and len(running) < max(1, workers):
                job = queue.pop(0)
                if on_start:
                    on_start(job)
                running[task.remote(*job)] = job
            done, _ = ray.wait(list(running), num_returns=1)
            job = running.pop(done[0])
            try:
                result = ray.get(done[0])
            except ray.exceptions.RayTaskError as exc:  # surface a user error as itself, not a Ray trace
                if isinstance(exc.cause, UserError):
                    raise exc.cause from None
                raise
            on_result(job, result)
    finally:
        if started_here:
            ray.shutdown()


def _label(request: RunRequest) -> str:
    forget = request.forget.label
    return f"{request.dataset}/{request.model} forget {forget} seed {request.seed} ({len(request.methods)} cells)"


def execute_collect(request: RunRequest, run_id: str) -> list[dict[str, Any]]:
    """Runs one request in a worker and returns its rows (the driver stores them)."""
    return execute(request, lambda row: None, run_id=run_id)


@BACKENDS.register("local")
def run_local(requests: Sequence[RunRequest], on_row: RowSink, *, workers: int, run_id: str,
              tracker: SweepProgress, address: Optional[str] = None) -> None:
    """Runs requests here, one after another (workers=1), or in a pool of `workers` processes."""
    if workers <= 1:  # rows are stored as each cell ends, not when its whole setting is done
        for request in requests:
            tracker.started(_label(request))
            execute(request, on_row, run_id=run_id)
        return
    map_tasks(execute_collect, [(r, run_id) for r in requests], lambda job, rows: [on_row(row) for row in rows],
              workers=workers, on_start=lambda job: tracker.started(_label(job[0])))


@BACKENDS.register("ray")
def run_ray(requests: Sequence[RunRequest], on_row: RowSink, *, workers: int, run_id: str,
            tracker: SweepProgress, address: Optional[str] = None) -> None:
    """Runs each request as a Ray task (one GPU each where the cluster has GPUs), at most `workers` at a time."""
    map_tasks(execute_collect, [(r, run_id) for r in requests], lambda job, rows: [on_row(row) for row in rows],
              backend="ray", workers=workers, address=address, on_start=lambda job: tracker.started(_label(job[0])))
