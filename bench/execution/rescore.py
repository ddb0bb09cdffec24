"""`unlearnbench rescore`: recompute every metric of the unlearned models saved beside a store, running no method."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Optional

from unlearnbench.core.errors import UserError
from unlearnbench.data.forget import ForgetSpec
from unlearnbench.execution.evaluate import build_reference, score
from unlearnbench.execution.runner import RunRequest, prepare_setting
from unlearnbench.execution.saved_models import load_model
from unlearnbench.execution.store import open_store


def _request(row: dict[str, Any], data_root: Optional[str], cache_dir: Optional[Path]) -> RunRequest:
    """The setting a stored row was run on (its recipe as stored; no method), with the model cache it ran against
    unless `cache_dir` names another (or the row predates recording it)."""
    if cache_dir is None and row["env"].get("cache_dir") and Path(row["env"]["cache_dir"]).is_dir():
        cache_dir = Path(row["env"]["cache_dir"])
    return RunRequest(dataset=row["dataset"], model=row["model"], methods=(), forget=ForgetSpec.from_stored(
        row["forget"]), seed=row["seed"], device=str(row["env"].get("device", "auto")).split(":")[0],
        data_root=data_root, cache_dir=cache_dir, recipe=dict(row.get("recipe") or {}))


def rescore(out: Path, data_root: Optional[str] = None, cache_dir: Optional[Path] = None,
            progress: Optional[Callable[..., None]] = None) -> int:
    """Recomputes the metrics of every ok row of OUT whose unlearned model is saved, keeping the values no metric
    function produces (stage accuracies, a method's own logs), against the model cache each row ran with unless
    `cache_dir` is given; returns how many rows were rescored. A rerun of a cell
    saves over the earlier run's file, so only the newest row of each file is rescored (the one reports show)."""
    store = open_store(out)
    try:
        newest: dict[str, dict[str, Any]] = {}
        for row in store.rows():  # oldest first
            if row["status"] == "ok" and (row.get("env") or {}).get("saved_model"):
                newest[row["env"]["saved_model"]["file"]] = row
        saved = sorted(newest.values(), key=lambda r: r["id"])
        if not saved:
            raise UserError(f"no saved models in {str(out)!r}: run with --save-models (save_models=True) first")
        groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
        for row in saved:
            groups[(row["dataset"], row["model"], str(row["forget"]), row["seed"], str(row.get("recipe")))].append(row)
        for rows in groups.values():
            setting = prepare_setting(_request(rows[0], data_root, cache_dir), progress)
            reference = build_reference(setting, progress)
            for row in rows:
                if progress:
                    progress(f"rescoring {row['method']} (seed {row['seed']})")
                model = load_model(out / "models" / row["env"]["saved_model"]["file"]).to(setting.data.device)
                store.update_metrics(row["id"], {**row["metrics"], **score(model, setting, reference, row["time_s"])})
        return len(saved)
    finally:
        store.close()
