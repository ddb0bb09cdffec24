"""User-facing errors: the CLI prints these as one line, without a traceback."""
from __future__ import annotations


class UserError(Exception):
    """An error caused by input the user can fix (a name, a value, a path)."""


class UnknownNameError(UserError, KeyError):
    """A registry lookup for a name that is not registered."""

    def __str__(self) -> str:
        # KeyError.__str__ would wrap the message in quotes.
        return str(self.args[0]) if self.args else ""


class ConfigError(UserError, ValueError):
    """A hyperparameter or option with the wrong type, range or name."""


class DataAccessError(UserError, PermissionError):
    """A method asked the context for data it did not declare."""


class HeldOutTestSplitError(DataAccessError):
    """A method touched the test split, which no context hands out."""


class DivergedError(RuntimeError):
    """A method produced non-finite weights, outputs or losses."""
