"""One generic name -> object registry shared by methods, datasets, models and metrics."""
from __future__ import annotations

import difflib
import re
from typing import Callable, Generic, Iterator, TypeVar

from unlearnbench.core.errors import UnknownNameError

T = TypeVar("T")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _origin(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


class Registry(Generic[T]):
    """Maps lowercase names to registered objects; misses suggest close names."""

    def __init__(self, kind: str, base: type | None = None, plugins: bool = False) -> None:
        self.kind = kind
        self._base = base
        self._plugins = plugins  # filled from the plugin packages and entry points on the first lookup
        self._items: dict[str, T] = {}

    def _populate(self) -> None:
        if self._plugins:
            from unlearnbench.core.plugins import load_plugins  # here: plugin modules import the registries

            load_plugins()  # imports each plugin once per process; later calls return at once

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers an object under `name`."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"{self.kind} name {name!r} must be lowercase letters, digits and '_'")

        def decorate(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorate

    def add(self, name: str, obj: T) -> None:
        """Registers `obj` under `name`; a duplicate name raises ValueError naming both origins."""
        if self._base is not None and not (isinstance(obj, type) and issubclass(obj, self._base)):
            raise TypeError(f"{self.kind} {name!r}: {_origin(obj)} is not a subclass of {self._base.__name__}")
        if name in self._items:
            if self._items[name] is obj:
                return
            raise ValueError(
                f"{self.kind} {name!r} is already registered by {_origin(self._items[name])}; "
                f"{_origin(obj)} cannot take the same name"
            )
        if isinstance(obj, type):
            obj.name = name  # type: ignore[attr-defined]
        self._items[name] = obj

    def remove(self, name: str) -> None:
        """Unregisters `name` (a no-op when it is not registered): for plugins and tests that register for a while."""
        self._items.pop(name, None)

    def get(self, name: str) -> T:
        """Returns the object registered as `name`, or raises UnknownNameError with suggestions."""
        self._populate()
        try:
            return self._items[name]
        except KeyError:
            pass
        close = difflib.get_close_matches(str(name), self._items, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownNameError(f"Unknown {self.kind} {name!r}.{hint} Available: {', '.join(self.names()) or '(none)'}")

    def names(self) -> list[str]:
        """Sorted registered names."""
        self._populate()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._populate()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._populate()
        return len(self._items)
