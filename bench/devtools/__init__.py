from __future__ import annotations

import sys
from typing import Callable

from unlearnbench.core.errors import UserError


def exit_code(tool: str, action: Callable[[], None]) -> int:
    """Runs a developer tool's `action`: 0, or 2 with a one-line `<tool>: error: ...` on stderr for bad input."""
    try:
        action()
    except UserError as exc:
        print(f"{tool}: error: {exc}", file=sys.stderr)
        return 2
    return 0
