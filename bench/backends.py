"""Execution backends of a sweep: in this process (optionally a process pool) or Ray tasks."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any, Callable, Optional, Sequence

from unlearnbench.errors import UserError
from unlearnbench.progress import SweepProgress
from unlearnbench.registry import Registry
from unlearnbench.runner import RunRequest, execute

Backend = Callable[..., None]
BACKENDS: Registry[Backend] = Registry("backend")
RowSink = Callable[[dict[str, Any]], None]


def _label(request: RunRequest) -> str:
    forget = request.forget.label
    return f"{request.dataset}/{request.model} forget {forget} seed {request.seed} ({len(request.methods)} cells)"


def execute_collect(request: RunRequest, run_id: str, threads: int = 0) -> list[dict[str, Any]]:
    """Runs one request in a worker and returns its rows (the driver stores them)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    return execute(request, lambda row: None, run_id=run_id)


@BACKENDS.register("local")
def run_local(requests: Sequence[RunRequest], on_row: RowSink, *, workers: int, run_id: str,
              tracker: SweepProgress, address: Optional[str] = None) -> None:
    """Runs requests here, one after another (workers=1), or in a pool of `workers` processes."""
    if workers <= 1:
        for request in requests:
            tracker.started(_label(request))
            execute(request, on_row, run_id=run_id)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(execute_collect, r, run_id, threads): r for r in requests}
        for request in requests:
            tracker.started(_label(request))
        for future in as_completed(futures):
            for row in future.result():
                on_row(row)


@BACKENDS.register("ray")
def run_ray(requests: Sequence[RunRequest], on_row: RowSink, *, workers: int, run_id: str,
            tracker: SweepProgress, address: Optional[str] = None) -> None:
    """Runs each request as a Ray task (one GPU each where the cluster has GPUs), at most `workers` at a time."""
    try:
        import ray
    except ImportError:
        raise UserError("--backend ray needs Ray: pip install 'unlearnbench[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        task = ray.remote(num_cpus=1, num_gpus=1 if gpus else 0)(execute_collect)
        queue, running = list(requests), {}
        limit = max(1, workers)
        while queue or running:
            while queue and len(running) < limit:
                request = queue.pop(0)
                tracker.started(_label(request))
                running[task.remote(request, run_id)] = request
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                running.pop(ref)
                try:
                    rows = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:  # surface a user error as itself, not a Ray trace
                    if isinstance(exc.cause, UserError):
                        raise exc.cause from None
                    raise
                for row in rows:
                    on_row(row)
    finally:
        if started_here:
            ray.shutdown()
