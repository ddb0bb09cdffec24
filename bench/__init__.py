"""unlearnbench: a benchmark harness for machine unlearning in image classifiers."""
from __future__ import annotations

from unlearnbench.timing import threads as _threads  # noqa: F401  first: sets OpenMP's wait policy before torch loads

__version__ = "0.1.0"
__all__ = ["Results", "load_model", "method", "run", "__version__"]
# `method` is the module unlearnbench.core.method, made callable as the decorator (see its _CallableModule).
_API = {"run": "unlearnbench.api", "Results": "unlearnbench.api", "method": "unlearnbench.core.method",
        "load_model": "unlearnbench.execution.saved_models"}


def __getattr__(name: str) -> object:
    """The Python API (`unlearnbench.run`, `Results`, `method`, `load_model`), imported on first use: `import unlearnbench` (and the
    command line's --help) stays free of torch."""
    if name in _API:
        import importlib

        module = importlib.import_module(_API[name])
        return module if name == "method" else getattr(module, name)
    raise AttributeError(f"module 'unlearnbench' has no attribute {name!r}")
