"""Fused SGD and Adam whose steady-state step is one fused kernel call, without torch.optim's per-step Python.

`torch.optim.Adam(fused=True).step()` spends about 130 us per call on this harness's 2-core CPUs outside its one
fused kernel (profiler record, grad-mode switch, per-parameter `_init_group`, grouping tensors by device and dtype),
and `zero_grad` another 25 us: 3-4 % of an MLP step on MNIST (measured in docs/speed.md). These subclasses let
torch take the first step (which builds the state) and any step it must handle itself (a closure, step hooks, a parameter without a gradient, a changed group), and otherwise call the
same fused kernel on cached state lists with the group's current hyperparameters, so results are bit-identical to
torch's own fused step (tests/test_optim.py) and schedulers, `state_dict` and `load_state_dict` work unchanged.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, Optional

import torch
from torch import Tensor
from torch.optim.optimizer import Optimizer, _global_optimizer_post_hooks, _global_optimizer_pre_hooks


def _torch_step(cls: type[Optimizer]) -> Callable[..., Optional[float]]:
    """`cls.step` with torch's hook-and-profiler wrapper exactly once (torch adds it to a class's first instance)."""
    step = cls.step
    return Optimizer.profile_hook_step(step.__wrapped__ if getattr(step, "hooked", False) else step)


class _LeanStep(ABC):
    """The fast path shared by the fused optimisers below; subclasses say how a group's state is listed, checked
    and updated."""

    _lean_cache: Optional[list[tuple[dict[str, Any], list[Tensor], list[list[Tensor]]]]] = None
    _torch_step: Callable[..., Optional[float]]  # the parent's step, hooks included

    @abstractmethod
    def _state_lists(self, group: dict[str, Any], params: list[Tensor]) -> Optional[list[list[Tensor]]]:
        """The group's per-parameter state tensors as the fused kernel takes them, or None when not yet built."""

    @abstractmethod
    def _fits(self, group: dict[str, Any], state: list[list[Tensor]]) -> bool:
        """Whether the cached `state` still matches the group's settings (a scheduler may change any of them)."""

    @abstractmethod
    def _fused_update(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor],
                      state: list[list[Tensor]]) -> None:
        """One fused update of `params` with `grads` and the cached `state` at the group's current settings."""

    def _lean_ready(self) -> bool:
        hooks = (self._optimizer_step_pre_hooks or self._optimizer_step_post_hooks  # type: ignore[attr-defined]
                 or _global_optimizer_pre_hooks or _global_optimizer_post_hooks)
        return not hooks and getattr(self, "grad_scale", None) is None and getattr(self, "found_inf", None) is None

    def _build_cache(self) -> None:
        cache = []
        for group in self.param_groups:  # type: ignore[attr-defined]
            params = list(group["params"])
            state = self._state_lists(group, params)
            if state is None:
                self._lean_cache = None
                return
            cache.append((group, params, state))
        self._lean_cache = cache

    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:
        """One optimiser step: the cached fused call when it applies, torch's own step otherwise."""
        cache = self._lean_cache
        if closure is None and cache is not None and len(cache) == len(self.param_groups) and self._lean_ready():
            grads_per_group = [[p.grad for p in params] for _, params, _ in cache]
            if (all(g is not None for grads in grads_per_group for g in grads)
                    and all(self._fits(group, state) for group, _, state in cache)):
                with torch.no_grad():
                    for (group, params, state), grads in zip(cache, grads_per_group):
                        self._fused_update(group, params, grads, state)
                return None
        loss = type(self)._torch_step(self, closure)
        self._build_cache()
        return loss

    # Torch wraps an optimiser class's step in its hook-and-profiler wrapper unless it is marked as wrapped: the lean
    # path must not pay that wrapper, and steps it hands to torch get it once, from `_torch_step`.
    step.hooked = True  # type: ignore[attr-defined]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drops every gradient (the lean path: no profiler record) or, with `set_to_none=False`, zeroes them."""
        if set_to_none and self._lean_cache is not None:
            for _, params, _ in self._lean_cache:
                for p in params:
                    p.grad = None
            return
        super().zero_grad(set_to_none)  # type: ignore[misc]

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a group and drops the cached state lists (rebuilt at the next step)."""
        super().add_param_group(param_group)  # type: ignore[misc]
        self._lean_cache = None

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Loads state and drops the cached state lists (rebuilt at the next step)."""
        super().load_state_dict(state_dict)  # type: ignore[misc]
        self._lean_cache = None


class LeanAdam(_LeanStep, torch.optim.Adam):
    """`torch.optim.Adam(fused=True)` (coupled weight decay, no AMSGrad) with a lean steady-state step."""

    _torch_step = staticmethod(_torch_step(torch.optim.Adam))

    def _fits(self, group: dict[str, Any], state: list[list[Tensor]]) -> bool:
        return group["fused"] and not (group["amsgrad"] or group["maximize"] or group["capturable"] or group["differentiable"]
                    or group["decoupled_weight_decay"])

    def _state_lists(self, group: dict[str, Any], params: list[Tensor]) -> Optional[list[list[Tensor]]]:
        states = [self.state.get(p) for p in params]
        if any(not s or "exp_avg" not in s for s in states):
            return None
        return [[s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states], [s["step"] for s in states]]

    def _fused_update(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor],
                      state: list[list[Tensor]]) -> None:
        exp_avgs, exp_avg_sqs, steps = state
        beta1, beta2 = group["betas"]
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, lr=group["lr"], beta1=beta1,
                           beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"], amsgrad=False,
                           maximize=False)


class LeanSGD(_LeanStep, torch.optim.SGD):
    """`torch.optim.SGD(fused=True)` (momentum, Nesterov, weight decay, dampening) with a lean steady-state step."""

    _torch_step = staticmethod(_torch_step(torch.optim.SGD))

    def _fits(self, group: dict[str, Any], state: list[list[Tensor]]) -> bool:
        # Momentum turned on or off since the cache was built: the buffers no longer match.
        return (group["fused"] and not (group["maximize"] or group["differentiable"]) and (group["momentum"] == 0) == (not state[0]))

    def _state_lists(self, group: dict[str, Any], params: list[Tensor]) -> Optional[list[list[Tensor]]]:
        if group["momentum"] == 0:
            return [[]]
        buffers = [self.state.get(p, {}).get("momentum_buffer") for p in params]
        return None if any(b is None for b in buffers) else [buffers]

    def _fused_update(self, group: dict[str, Any], params: list[Tensor], grads: list[Tensor],
                      state: list[list[Tensor]]) -> None:
        torch._fused_sgd_(params, grads, state[0], weight_decay=group["weight_decay"], momentum=group["momentum"],
                          lr=group["lr"], dampening=group["dampening"], nesterov=group["nesterov"], maximize=False,
                          is_first_step=False)

