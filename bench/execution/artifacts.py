"""Method artifacts cached per original model (and forget set): importances, masks; their first cost is booked again.

A cached artifact is read back with the seconds its computation took, and those are booked to the method as a phase
marked reused (as `retrain` books its training), so a stored time is always the method's full cost.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from unlearnbench.execution.cache import TrainingTime
from unlearnbench.execution.setting import Setting
from unlearnbench.timing.contention import LoadWatch
from unlearnbench.timing.timer import PhaseTimer

Tensors = dict[str, Tensor]


def artifact_key(setting: Setting, name: str, params: dict[str, Any], per_forget_set: bool) -> dict[str, Any]:
    """The cache key: the original model's key, the artifact's name and parameters, and the forget set if it depends."""
    key = {**setting.payload("original"), "kind": "artifact", "artifact": name, "params": params}
    if per_forget_set:
        key["forget_rows"] = setting.forget_identity()
    return key


def _holder(like: Tensors) -> nn.Module:
    """A module whose buffers have the artifact's names, shapes and dtypes (what the model cache stores)."""
    holder = nn.Module()
    for name, tensor in like.items():
        holder.register_buffer(name.replace(".", "__"), torch.zeros_like(tensor, device="cpu"))
    return holder


def cached_tensors(setting: Setting, timer: PhaseTimer, phase: str, key: dict[str, Any], like: Tensors,
                   compute: Callable[[], Tensors]) -> Tensors:
    """`compute()` timed as `phase` and stored under `key`, or the stored tensors with their seconds booked as reused.

    `like` gives the names, shapes and dtypes of the result (checked on load)."""
    cache = setting.cache
    with cache.lock(key):
        holder = _holder(like)
        with timer.excluded():  # reading the file is the harness's cost, not the method's
            stored = cache.load(key, holder)
        device = setting.data.device
        if stored is not None:
            timer.record(phase, stored.seconds, stored.measured)
            return {name: holder.get_buffer(name.replace(".", "__")).to(device) for name in like}
        before, watch = timer.phases.get(phase, 0.0), LoadWatch()
        with timer.phase(phase):
            result = compute()
        seconds = timer.phases[phase] - before  # what a later reuse books: exactly this run's phase
        with timer.excluded():
            for name, tensor in result.items():
                holder.get_buffer(name.replace(".", "__")).copy_(tensor.detach().cpu())
            cache.save(key, holder, TrainingTime(seconds, setting.measured_in(watch)))
        return result
