"""Finds built-in and third-party plugins: every module of the built-in packages, then entry points."""
from __future__ import annotations

import importlib
import pkgutil
import sys
from importlib.metadata import entry_points

BUILTIN_PACKAGES = ("unlearnbench.datasets", "unlearnbench.methods")
ENTRY_POINT_GROUPS = ("unlearnbench.datasets", "unlearnbench.methods", "unlearnbench.models")

_loaded = False


def load_plugins(rescan: bool = False) -> None:
    """Imports every built-in plugin module and every installed entry point, once per process, or again with
    `rescan` (a plugin installed while the process runs, e.g. in a notebook)."""
    global _loaded
    if _loaded and not rescan:
        return
    _loaded = True
    for package_name in BUILTIN_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{info.name}")
    for group in ENTRY_POINT_GROUPS:
        for ep in entry_points(group=group):
            try:
                ep.load()  # importing the module runs its @register_* decorators
            except Exception as exc:  # a broken third-party plugin must not take the harness down
                print(f"unlearnbench: skipping plugin {ep.name!r} ({ep.value}): {type(exc).__name__}: {exc}",
                      file=sys.stderr)
