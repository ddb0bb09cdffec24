"""unlearnbench: a benchmark harness for machine unlearning in image classifiers."""
from __future__ import annotations

from unlearnbench.timing import threads as _threads  # noqa: F401  first: sets OpenMP's wait policy before torch loads

__version__ = "0.1.0"
# The public names and the modules that hold them, imported on first use: `import unlearnbench` (and the command
# line's --help) stays free of torch.
_API = {
    "run": "unlearnbench.api", "Results": "unlearnbench.api",
    "method": "unlearnbench.core.function_method", "Method": "unlearnbench.core.method",
    "register_method": "unlearnbench.core.method", "UnlearnContext": "unlearnbench.execution.context",
    "load_model": "unlearnbench.execution.saved_models",
}
__all__ = [*sorted(_API), "__version__"]


def __getattr__(name: str) -> object:
    """The public API (`unlearnbench.run`, `Results`, `method`, `Method`, `register_method`, `UnlearnContext`,
    `load_model`), imported on first use."""
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'unlearnbench' has no attribute {name!r}")
