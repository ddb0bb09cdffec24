"""Sweeps: run a suite's pending cells on a backend, resuming without duplicates or losses."""
from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Optional

from unlearnbench.core.method import METHODS
from unlearnbench.execution.backends import BACKENDS
from unlearnbench.execution.progress import SweepProgress
from unlearnbench.execution.runner import RunRequest, cell_key
from unlearnbench.execution.store import ResultStore
from unlearnbench.execution.suite import Suite


@dataclass
class SweepSummary:
    """What a sweep found and did."""

    cells: int = 0
    skipped_ok: int = 0
    skipped_failed: int = 0
    ran: int = 0
    failed: int = 0


def plan(suite: Suite, status: dict[str, str], rerun: bool, retry_failed: bool
         ) -> tuple[list[RunRequest], SweepSummary]:
    """The suite's requests cut down to the cells still to run, and the counts of what is skipped."""
    summary = SweepSummary(cells=suite.cell_count)
    pending = []
    for request in suite.requests:
        keep = []
        for entry in request.methods:
            name, params = entry
            method = METHODS.get(name).from_params(params, request.model, request.dataset, request.forget.scenario,
                                                   request.defaults)
            key = cell_key(request, method)
            state = status.get(key)
            if state == "ok" and not rerun:
                summary.skipped_ok += 1
            elif state == "failed" and not (retry_failed or rerun):
                summary.skipped_failed += 1
            else:
                keep.append(entry)
        if keep:
            pending.append(dataclasses.replace(request, methods=tuple(keep)))
    return pending, summary


def sweep(suite: Suite, store: ResultStore, backend: str = "local", workers: int = 1, rerun: bool = False,
          retry_failed: bool = False, ray_address: Optional[str] = None,
          progress: Optional[Callable[[str], None]] = None) -> SweepSummary:
    """Runs every pending cell of `suite`; the driver alone writes the store, one transaction per row."""
    pending, summary = plan(suite, store.status_by_key(), rerun, retry_failed)
    todo = sum(len(r.methods) for r in pending)
    tracker = SweepProgress(todo, progress)
    run_id = uuid.uuid4().hex[:12]

    def on_row(row: dict[str, Any]) -> None:
        row["id"] = store.insert(row)
        summary.ran += 1
        summary.failed += row["status"] != "ok"
        tracker.cell_done(row)

    if pending:
        BACKENDS.get(backend)(pending, on_row, workers=workers, run_id=run_id, tracker=tracker,
                              address=ray_address)
    return summary
