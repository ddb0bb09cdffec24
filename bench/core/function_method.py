"""Methods written as plain functions: `@unlearnbench.method(name=..., access=..., scenarios=...)` on
`def unlearn(model, ctx) -> model`."""
from __future__ import annotations

import inspect
import warnings
from typing import Any, Callable, Iterable

from torch import nn

from unlearnbench.core.errors import UserError
from unlearnbench.core.method import METHODS, Method

Unlearn = Callable[[nn.Module, Any], nn.Module]


class FunctionMethod(Method):
    """A Method whose `unlearn` is a plain function (no hyperparameters: the function holds its own)."""

    function: Unlearn

    def unlearn(self, model: nn.Module, ctx: Any) -> nn.Module:
        """Calls the function; it must return a model."""
        result = type(self).function(model, ctx)
        if not isinstance(result, nn.Module):
            raise UserError(f"method {self.name!r}: its function returned {type(result).__name__}, not the model")
        return result


def method(name: str, *, access: Iterable[str], scenarios: Iterable[str],
           role: str = "method") -> Callable[[Unlearn], Unlearn]:
    """Registers `def unlearn(model, ctx) -> model` as method `name` with its declared data access and scenarios.

    Defining the same name again with this decorator (a notebook cell run twice) replaces the earlier definition
    with a warning; a name taken by a Method class is refused.
    """
    def decorate(function: Unlearn) -> Unlearn:
        parameters = list(inspect.signature(function).parameters)
        if len(parameters) != 2:
            raise UserError(f"@unlearnbench.method({name!r}): {function.__name__} takes ({', '.join(parameters)}); "
                            f"write it as def {function.__name__}(model, ctx) -> model")
        if name in METHODS:
            earlier = METHODS.get(name)
            if not issubclass(earlier, FunctionMethod):
                raise UserError(f"@unlearnbench.method({name!r}): the name is taken by {earlier.__module__}."
                                f"{earlier.__name__}; choose another name")
            warnings.warn(f"method {name!r} is defined again: the new definition replaces the earlier one",
                          stacklevel=2)
            METHODS.remove(name)
        cls = type(f"FunctionMethod_{name}", (FunctionMethod,), {
            "function": staticmethod(function), "access": frozenset(access), "scenarios": frozenset(scenarios),
            "role": role, "__doc__": (function.__doc__ or f"{function.__name__} as a method").strip().splitlines()[0],
            "__module__": function.__module__})
        try:
            METHODS.register(name)(cls)
        except ValueError as exc:  # a malformed name, an unknown access kind or scenario
            raise UserError(f"@unlearnbench.method({name!r}): {exc}") from None
        function.__unlearnbench_method__ = name  # type: ignore[attr-defined]
        return function

    return decorate


def definitions(names: Iterable[str]) -> tuple[tuple[str, bytes], ...]:
    """(name, pickled class) of the function methods among `names`, for workers: by value with cloudpickle (a
    notebook's functions cannot be imported by a worker), by reference where cloudpickle is not installed."""
    try:
        import cloudpickle as pickler
    except ImportError:  # pragma: no cover - cloudpickle comes with Ray
        import pickle as pickler
    chosen = [(n, METHODS.get(n)) for n in names if n in METHODS and issubclass(METHODS.get(n), FunctionMethod)]
    return tuple((name, pickler.dumps(cls)) for name, cls in chosen)
