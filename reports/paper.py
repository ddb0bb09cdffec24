"""Paper figures (PDF, SVG, PNG) and LaTeX tables, one set per setting, written to a folder."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

from unlearnbench.metrics import DEFAULT_YARDSTICK
from unlearnbench.reports.aggregate import aggregate
from unlearnbench.reports.figures import FIGURES, style
from unlearnbench.reports.latex import setting_table

FORMATS = ("pdf", "svg", "png")
PNG_DPI = 300


def slug(text: str) -> str:
    """A file-name-safe form of a setting title."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def write_figures(rows: Sequence[dict[str, Any]], folder: Path, gap: str = DEFAULT_YARDSTICK) -> list[Path]:
    """Writes every figure in every format and a .tex table per setting (gaps under the definition `gap`); returns
    the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for setting in aggregate(rows, gap):
        if not setting.methods:
            continue
        stem = slug(setting.title)
        with style():
            for kind, draw in FIGURES.items():
                fig = draw(setting)
                for fmt in FORMATS:
                    path = folder / f"{stem}-{kind}.{fmt}"
                    fig.savefig(path, format=fmt, dpi=PNG_DPI, metadata={"CreationDate": None} if fmt == "pdf"
                                else {"Date": None} if fmt == "svg" else None)
                    written.append(path)
        table = folder / f"{stem}-table.tex"
        table.write_text(setting_table(setting), encoding="utf-8")
        written.append(table)
    return written
