"""Fisher forgetting: add Gaussian noise to every weight, scaled by the inverse of the retain set's Fisher information,
so weights the retain data does not pin down are scrambled.

Paper: Golatkar, Achille, Soatto, "Eternal Sunshine of the Spotless Net: Selective Forgetting in Deep Networks",
CVPR 2020, arXiv:1911.04933.
Authors' code: if-loops/selective-synaptic-dampening@cdfdc0e `src/forget_full_class_strategies.py` and
`src/forget_random_strategies.py` (`FisherForgetting`: `hessian`, `get_mean_var`), the code SSD, SCRUB and
DeepUnlearn compare against. In eval mode, for every retain sample (batch size 1) and every label y, the squared
gradient of the cross-entropy towards y, weighted by the model's probability of y, is summed and divided by the
number of samples: F = mean_x sum_y p(y | x) (d CE(x, y) / d theta)^2. Then per parameter: var = 1 / (F + 1e-8)
clamped to <= 1e3 (<= 1e2 for the last layer), times alpha = 1e-6; for weights of two or more dimensions the variance
is averaged over dimension 1 (input units); in class-wise forgetting the last layer's row of the forgotten class gets
mean 0 and variance 1e-4; every 1-D parameter's variance is multiplied by 10, and in class-wise forgetting the last
layer's too (forget_full_class_strategies.py:540-545; the random and sub-class strategies boost 1-D parameters
only: forget_random_strategies.py:282-284, forget_subclass_strategies.py:324-326); theta = mean + sqrt(var) * N(0, 1).
Deviations:
- The Fisher diagonal is computed in batches: one forward per batch, the backward signal of all C labels at once
  (autograd's batched vector-Jacobian products, a vmap over the labels' cotangents), and each layer's per-sample
  squared gradients from its input and that signal (Linear: an outer product, so the weighted sum over samples is one
  matrix product; Conv2d: per-sample products of the unfolded input; BatchNorm in eval mode: sums over positions).
  It equals the authors' |D_r| x C backward passes (a test checks it against them) at the cost of a few epochs.
- The last layer is the model family's head (`unlearnbench.models.layouts`), not "any parameter whose first dimension equals
  the class count" (the authors' heuristic, which also catches a hidden layer as wide as the class count).
- Class-wise forgetting zeroes the rows of every forgotten class (the authors' code forgets one class). Partial and
  sub-class forgetting run the random-forgetting variant (the forgotten samples' class is still retained).
- Noise comes from the cell's seeded generator; a model with a parameterised layer other than Linear, Conv2d or
  BatchNorm gets a one-line error naming it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unlearnbench.core.config import require_positive
from unlearnbench.core.errors import ConfigError
from unlearnbench.core.method import Method, register_method
from unlearnbench.core.scenarios import SCENARIOS
from unlearnbench.core.space import Range
from unlearnbench.execution.context import UnlearnContext
from unlearnbench.models.layouts import head_of

FisherDiagonal = dict[nn.Parameter, Tensor]
_LAYERS = (nn.Linear, nn.Conv2d, nn.modules.batchnorm._BatchNorm)


@dataclass(frozen=True)
class FisherConfig:
    """Fisher-forgetting hyperparameters (the SSD repository's FisherForgetting)."""

    alpha: float = 1e-6  # noise scale (SSD's alpha = 1e-6; SCRUB's notebook uses 1e-7)
    max_var: float = 1e3  # variance clamp (var.clamp(max=1e3))
    max_var_head: float = 1e2  # the last layer's clamp (var.clamp(max=1e2))
    forgotten_var: float = 1e-4  # class-wise: the forgotten rows' variance around 0 (var[forget_class] = 0.0001)
    boost: float = 10.0  # 1-D parameters' (class-wise: and the last layer's) variance factor (var *= 10)
    batch_size: int = 256  # rows per batched Fisher pass (the authors' code: 1); the result does not depend on it

    def __post_init__(self) -> None:
        require_positive(self, "alpha", "max_var", "max_var_head", "forgotten_var", "boost", "batch_size")


def _layers(model: nn.Module) -> list[nn.Module]:
    """The modules that own parameters directly; refuses a kind whose per-sample gradient is not written here."""
    owners = [m for m in model.modules() if any(True for _ in m.parameters(recurse=False))]
    for m in owners:
        if not isinstance(m, _LAYERS):
            raise ConfigError(f"fisher: no per-sample gradient rule for {type(m).__name__} layers "
                              f"(Linear, Conv2d and BatchNorm only)")
    return owners


def _weighted_squares(layer: nn.Module, a: Tensor, delta: Tensor, p: Tensor) -> list[Tensor]:
    """sum over samples and labels of p * (per-sample gradient)^2, for the layer's weight and bias.

    a: the layer's input (B, ...); delta: d CE(y) / d output for every label (C, B, ...); p: probabilities (B, C).
    """
    w = p.t()  # (C, B)
    if isinstance(layer, nn.Linear):
        s = torch.einsum("cb,cbo->bo", w, delta.square())
        return [s.t() @ a.square(), s.sum(0)]
    if isinstance(layer, nn.Conv2d):
        cols = F.unfold(a, layer.kernel_size, layer.dilation, layer.padding, layer.stride)  # (B, in*k*k, L)
        d = delta.flatten(3)  # (C, B, out, L)
        weight = torch.zeros(layer.weight.shape[0], cols.shape[1], device=a.device, dtype=a.dtype)
        # Per-sample gradients are C x out x in*k*k each: a few rows at a time keeps them under 2^26 numbers.
        rows = max(1, 2 ** 26 // (d.shape[0] * weight.numel()))
        for start in range(0, d.shape[1], rows):
            part = torch.einsum("cbol,bkl->cbok", d[:, start:start + rows], cols[start:start + rows])
            weight += torch.einsum("cb,cbok->ok", w[:, start:start + rows], part.square())
        return [weight.view_as(layer.weight), torch.einsum("cb,cbo->o", w, d.sum(3).square())]
    normalised = (a - layer.running_mean.view(1, -1, 1, 1)) / (layer.running_var.view(1, -1, 1, 1) + layer.eps).sqrt()
    return [torch.einsum("cb,cbo->o", w, (delta * normalised).sum((3, 4)).square()),
            torch.einsum("cb,cbo->o", w, delta.sum((3, 4)).square())]


def fisher_diagonal(model: nn.Module, x: Tensor, batch_size: int) -> FisherDiagonal:
    """mean over rows of x of sum_y p(y | x) * (d CE(x, y) / d theta)^2, per parameter, in eval mode."""
    layers = _layers(model)
    totals = {p: torch.zeros_like(p) for p in model.parameters()}
    seen: dict[nn.Module, tuple[Tensor, Tensor]] = {}

    def keep(layer: nn.Module, args: tuple[Tensor, ...], out: Tensor) -> Tensor:
        # Later in-place ops (ReLU(inplace=True), ResNet's `out += identity`) must not touch what is kept: the layer's
        # input is copied, and the rest of the forward runs on a copy of its output.
        seen[layer] = (args[0].detach().clone(), out)
        return out.clone()

    hooks = [m.register_forward_hook(keep) for m in layers]
    was_training = model.training
    model.eval()
    try:
        for xb in x.split(batch_size):
            seen.clear()
            logits = model(xb)
            p = F.softmax(logits, dim=1).detach()
            eye = torch.eye(p.shape[1], device=p.device, dtype=p.dtype)
            cotangents = p.unsqueeze(0) - eye.unsqueeze(1)  # d CE(y) / d logits = p - onehot(y), one per label y
            outputs = [seen[m][1] for m in layers]
            deltas = torch.autograd.grad(logits, outputs, cotangents, is_grads_batched=True)
            with torch.no_grad():
                for layer, delta in zip(layers, deltas):
                    params = [layer.weight, layer.bias]
                    for param, square in zip(params, _weighted_squares(layer, seen[layer][0], delta, p)):
                        if param is not None:
                            totals[param] += square
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return {param: total / len(x) for param, total in totals.items()}


@torch.no_grad()
def add_fisher_noise(model: nn.Module, fisher: FisherDiagonal, head: nn.Module, forget_classes: tuple[int, ...],
                     cfg: FisherConfig, generator: torch.Generator) -> None:
    """theta <- mean + sqrt(var) * N(0, 1) with the authors' variance rules (see the module docstring)."""
    head_params = {id(p) for p in head.parameters()}
    for p in model.parameters():
        in_head = id(p) in head_params
        var = (1 / (fisher[p] + 1e-8)).clamp(max=cfg.max_var_head if in_head else cfg.max_var) * cfg.alpha
        if p.dim() > 1:
            var = var.mean(dim=1, keepdim=True).expand_as(p).clone()
        mean = p.detach().clone()
        if in_head and forget_classes:
            rows = list(forget_classes)
            mean[rows] = 0
            var[rows] = cfg.forgotten_var
        if (in_head and forget_classes) or p.dim() == 1:  # the head only in class-wise forgetting, as the authors' code
            var = var * cfg.boost
        p.copy_(mean + var.sqrt() * torch.randn(p.shape, generator=generator, device=p.device, dtype=p.dtype))


@register_method("fisher")
class Fisher(Method):
    """Scrambles the weights the retain set's Fisher information leaves loose."""

    Config = FisherConfig
    search_space = {"alpha": Range(1e-9, 1e-4, log=True)}
    access = frozenset({"retain"})
    scenarios = frozenset(SCENARIOS)
    version = 2  # v2: the head's x10 variance only in class-wise forgetting, as the authors' strategies

    def unlearn(self, model: nn.Module, ctx: UnlearnContext) -> nn.Module:
        """Adds Fisher-scaled noise to `model` in place."""
        c = self.cfg
        x, _ = ctx.retain()  # the labels the Fisher uses are every class, weighted by the model's own probabilities
        with ctx.phase("fisher"):
            fisher = fisher_diagonal(model, x, c.batch_size)
        with ctx.phase("noise"):
            classes = ctx.forget_classes if ctx.scenario == "class" else ()
            add_fisher_noise(model, fisher, head_of(ctx.model_name, model), classes, c, ctx.rng)
        return model
