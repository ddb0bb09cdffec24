"""Reading a torchvision dataset from a data root, with one clear error when the files are absent."""
from __future__ import annotations

from pathlib import Path
import importlib
from typing import Any, Optional

from unlearnbench.core.errors import UserError
from unlearnbench.data.loading import DATA_ENV


def open_split(class_name: str, label: str, root: Optional[Path], train: bool, download: bool) -> Any:
    """Instantiates torchvision.datasets.`class_name`, turning 'not found' into a UserError that says what to do."""
    if root is None:
        raise UserError(f"{label} needs a data root: pass --data-root DIR or set {DATA_ENV}")
    # Imported on first use: torchvision.datasets costs about 1.5 s of start-up, which commands that read no
    # torchvision dataset (listings, results, reports, digits runs) should not pay.
    factory = getattr(importlib.import_module("torchvision.datasets"), class_name)
    try:
        return factory(root=str(root), train=train, download=download)
    except (RuntimeError, OSError) as exc:
        hint = "" if download else " (add --download to fetch it when online)"
        raise UserError(f"{label} could not be read under {str(root)!r}{hint}: {str(exc).splitlines()[0]}") from None
