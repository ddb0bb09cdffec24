"""Per-setting defaults shipped with the package: each method's values chosen by the harness's own equal-budget
tuning on the validation split (`python -m unlearnbench.devtools.ship_defaults`), one TOML file per
dataset/model/scenario under `methods/defaults/`. A method without shipped values for a setting runs its authors'
(paper) defaults.
"""
from __future__ import annotations

import functools
import warnings
from importlib import resources
from typing import Any, Mapping, Optional

from unlearnbench.core.toml import tomllib

SHIPPED, PAPER = "shipped-tuned", "paper"  # what a row says it ran with
CHOICES = ("shipped", "paper")  # --defaults: shipped-tuned values where a file has them, or the authors' everywhere
FOLDER = "defaults"  # inside the unlearnbench.methods package


class ShippedDefaultsWarning(UserWarning):
    """A shipped file that cannot be used for a method: it falls back to its paper defaults."""


def shipped_files() -> list[Any]:
    """The shipped defaults files (importlib.resources traversables), sorted by name."""
    folder = resources.files("unlearnbench.methods") / FOLDER
    return sorted((f for f in folder.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name) \
        if folder.is_dir() else []


@functools.lru_cache(maxsize=None)
def shipped_tables() -> dict[str, tuple[dict[str, Any], int]]:
    """Each shipped file's name -> (its parsed contents, its size in bytes), read once."""
    texts = {file.name: file.read_text(encoding="utf-8") for file in shipped_files()}
    return {name: (tomllib.loads(text), len(text.encode("utf-8"))) for name, text in texts.items()}


@functools.lru_cache(maxsize=None)
def _index() -> dict[tuple[str, str, str], tuple[str, Mapping[str, Any]]]:
    """(dataset, model, scenario) -> (file name, its methods table)."""
    index = {}
    for name, (data, _) in shipped_tables().items():
        setting = data["shipped"]
        index[(setting["dataset"], setting["model"], setting["scenario"])] = (name, data.get("methods", {}))
    return index


def reload() -> None:
    """Forgets the parsed files and the warnings given, so regenerated (or, in tests, substituted) files are read."""
    shipped_tables.cache_clear()
    _index.cache_clear()
    warn_fallback.cache_clear()


def shipped_params(method: str, version: int, dataset: Optional[str], model: Optional[str],
                   scenario: Optional[str]) -> Optional[tuple[dict[str, Any], str]]:
    """The shipped values of `method` for the setting and the file they come from; None where none are shipped or
    the file tuned another version of the method (with one warning naming the file)."""
    found = _index().get((dataset or "", model or "", scenario or "class"))
    if found is None or method not in found[1]:
        return None
    name, methods = found
    entry = methods[method]
    if entry.get("version") != version:
        warn_fallback(method, name, f"it was tuned for version {entry.get('version')}, this is version {version}")
        return None
    return dict(entry["params"]), name


@functools.lru_cache(maxsize=None)
def warn_fallback(method: str, file: str, why: str) -> None:
    """Warns once per method, file and reason that the method runs its paper defaults instead."""
    warnings.warn(f"{method}: shipped defaults in methods/{FOLDER}/{file} not used ({why}); running its paper "
                  f"defaults. Regenerate: python -m unlearnbench.devtools.ship_defaults", ShippedDefaultsWarning,
                  stacklevel=2)
