"""The benchmark suite's saved results as a table: per group, the harness's and the plain loop's best seconds and
their ratio.

    python -m pytest -m benchmark tests/benchmarks --benchmark-only --benchmark-json FILE   # measure and keep
    python -m unlearnbench.devtools.benchmarks FILE [--markdown]                              # print it again

The docs' speed tables are this command's output for a file kept under reports/examples/, so a number there is
one measured by the suite, never typed.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from unlearnbench.core.errors import UserError
from unlearnbench.devtools import exit_code
from unlearnbench.reports.table import grid, markdown_table

# A benchmark is the reference side of its group when one of its name's parts says so; everything else is the
# harness (tests/benchmarks: test_plain_*, and the optimiser group's `torch` implementation against `lean`).
REFERENCE_PARTS = {"plain", "torch"}
HEADER = ["group", "harness s", "plain loop s", "ratio", "rounds"]


@dataclass
class Group:
    """One benchmark group: the best seconds of its harness and reference sides."""

    name: str
    harness: Optional[float] = None
    reference: Optional[float] = None
    rounds: list[int] = field(default_factory=list)

    @property
    def ratio(self) -> Optional[float]:
        """Reference seconds / harness seconds (above 1: the harness is faster)."""
        return self.reference / self.harness if self.harness and self.reference else None


def _is_reference(name: str) -> bool:
    return bool(REFERENCE_PARTS & set(re.split(r"[\[\]\-_]", name)))


def read_groups(path: Path) -> tuple[dict[str, Any], list[Group]]:
    """The machine and commit a pytest-benchmark JSON file was measured on, and its groups in file order."""
    try:
        saved = json.loads(Path(path).read_text())
    except OSError as exc:
        raise UserError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    except json.JSONDecodeError:
        raise UserError(f"{str(path)!r} is not JSON: save one with pytest's --benchmark-json FILE") from None
    if not isinstance(saved, dict) or "benchmarks" not in saved:
        raise UserError(f"{str(path)!r} is not a pytest-benchmark file (no 'benchmarks' list)")
    groups: dict[str, Group] = {}
    for b in saved["benchmarks"]:
        group = groups.setdefault(b.get("group") or b["name"], Group(b.get("group") or b["name"]))
        side = "reference" if _is_reference(b["name"]) else "harness"
        best = b["stats"]["min"]
        if getattr(group, side) is None or best < getattr(group, side):
            setattr(group, side, best)
        group.rounds.append(b["stats"]["rounds"])
    return saved, list(groups.values())


def _seconds(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.4f}" if value < 0.1 else f"{value:.3f}"


def _machine(saved: dict[str, Any]) -> str:
    info, commit = saved.get("machine_info", {}), saved.get("commit_info", {})
    cpu = info.get("cpu", {})
    name = cpu.get("brand_raw") or info.get("processor") or "unknown CPU"
    cores = cpu.get("count")
    revision = (commit.get("id") or "")[:7]
    return (f"{name}{f', {cores} cores' if cores else ''}, Python {info.get('python_version', '?')}; "
            f"{saved.get('datetime', '?')[:16].replace('T', ' ')} UTC"
            + (f", commit {revision}{' (uncommitted changes)' if commit.get('dirty') else ''}" if revision else ""))


def format_groups(saved: dict[str, Any], groups: Sequence[Group], markdown: bool = False) -> str:
    """The groups as a fixed-width or Markdown table, best seconds (min over rounds) per side."""
    rows = [[g.name, _seconds(g.harness), _seconds(g.reference), f"{g.ratio:.2f}x" if g.ratio else "-",
             "/".join(str(r) for r in sorted(set(g.rounds)))] for g in groups]
    note = ("min over rounds; ratio = plain-loop (or torch optimiser) seconds / harness seconds, above 1 the harness "
            "is faster; `busy` groups ran beside one spinning process")
    if not markdown:
        return "\n".join([f"measured on {_machine(saved)}", ""] + grid(HEADER, rows) + ["", note])
    table = markdown_table(HEADER, [[f"`{r[0]}`", *r[1:]] for r in rows])
    return "\n".join([f"Measured on {_machine(saved)}.", ""] + table + ["", f"{note[0].upper()}{note[1:]}."])


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Prints the saved benchmark results as a table."""
    parser = argparse.ArgumentParser(prog="python -m unlearnbench.devtools.benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", help="a JSON file written by pytest --benchmark-json")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table (for docs/)")
    args = parser.parse_args(argv)
    return exit_code("benchmarks", lambda: print(format_groups(*read_groups(Path(args.file)), args.markdown)))


if __name__ == "__main__":
    sys.exit(main())
