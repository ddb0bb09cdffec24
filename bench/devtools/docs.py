"""Keeps the README and docs/ honest: tables come from commands, links resolve, documented commands still parse.

    python -m unlearnbench.devtools.docs           # rewrite every generated block from its command
    python -m unlearnbench.devtools.docs --check   # exit 1 on a stale block, a dead link or an unparsable command

A generated block is written between `<!-- generated: COMMAND -->` and `<!-- end generated -->`, where COMMAND is
an `unlearnbench ...` or `python -m unlearnbench.devtools.<tool> ...` line; its content is exactly what the
command prints, run from the repository root (stores under reports/examples/).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

BLOCK = re.compile(r"(<!-- generated: (?P<command>(?:unlearnbench|python -m unlearnbench\.devtools\.\w+) "
                   r"[^\n]*?) -->\n)"
                   r"(?P<body>.*?)(<!-- end generated -->)", re.S)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)\)")
FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```", re.S | re.M)
SHELL = {"bash", "sh", "console", "shell"}


def documents(root: Path) -> list[Path]:
    """The Markdown files a user reads: the README and everything under docs/."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def _cli_output(command: str, root: Path) -> str:
    """What `command` (`unlearnbench ...` or `python -m unlearnbench.devtools.<tool> ...`) prints, run in-process
    from `root`."""
    import importlib

    argv = shlex.split(command)
    if argv[0] == "unlearnbench":
        from unlearnbench.cli.main import main
        argv = argv[1:]
    else:
        main, argv = importlib.import_module(argv[2]).main, argv[3:]
    out = io.StringIO()
    with _cwd(root), contextlib.redirect_stdout(out):
        code = main(argv)
    if code:
        raise SystemExit(f"`{command}` exited with {code}")
    return out.getvalue()


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    import os

    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def regenerate(text: str, root: Path) -> str:
    """`text` with every generated block's body replaced by its command's output."""
    def fill(match: re.Match) -> str:
        body = _cli_output(match["command"], root)
        return f"{match.group(1)}{body.rstrip()}\n{match.group(4)}"

    return BLOCK.sub(fill, text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text())
    return {slug(m[1]) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


@dataclass(frozen=True)
class Problem:
    """One thing in a document that is wrong."""

    path: Path
    what: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what}"


def dead_links(path: Path) -> list[Problem]:
    """Relative links of `path` whose file or heading does not exist."""
    problems, anchors = [], {}  # each linked page's headings, read once
    for match in LINK.finditer(FENCE.sub("", path.read_text())):
        target = match["target"]
        if re.match(r"^[a-z]+:", target):
            continue  # http, https, mailto: outside this repository
        file, _, anchor = target.partition("#")
        where = (path.parent / file).resolve() if file else path
        if not where.exists():
            problems.append(Problem(path, f"link to {target}: no such file"))
            continue
        if not anchor or where.suffix != ".md":
            continue
        if where not in anchors:
            anchors[where] = _anchors(where)
        if anchor not in anchors[where]:
            problems.append(Problem(path, f"link to {target}: no heading with that anchor"))
    return problems


def documented_commands(text: str) -> Iterator[str]:
    """Every `unlearnbench ...` command in the shell blocks of `text` (continuations joined; synopses skipped)."""
    for fence in FENCE.finditer(text):
        if fence["lang"] not in SHELL:
            continue
        for line in fence["body"].replace("\\\n", " ").splitlines():
            for part in re.split(r"\s*(?:&&|;|\|\|?)\s*", line.strip().removeprefix("$ ")):
                part = re.sub(r"^(do|then)\s+", "", part)
                if part.startswith("unlearnbench ") and " [" not in part and "..." not in part:
                    yield " ".join(part.split(" #")[0].split())


def _without_variables(argv: list[str]) -> list[str]:
    """Shell variables read as 0 where a flag takes them as its value; a variable standing alone (a list of
    options, e.g. $STRESS) is dropped."""
    out = []
    for token in argv:
        if re.fullmatch(r"\$\{?\w+\}?", token) and not (out and out[-1].startswith("-") and "=" not in out[-1]):
            continue
        out.append(re.sub(r"\$\{?\w+\}?", "0", token))
    return out


def unparsable(path: Path) -> list[Problem]:
    """Documented commands of `path` that the command line now refuses."""
    from unlearnbench.cli.main import build_parser

    parser, problems = build_parser(), []
    for command in documented_commands(path.read_text()):
        argv = _without_variables(shlex.split(command)[1:])
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                parser.parse_args(argv)
        except SystemExit:
            problems.append(Problem(path, f"command no longer parses: {command}"))
    return problems


def check(root: Path) -> list[Problem]:
    """Stale generated blocks, dead links and unparsable commands in every document."""
    problems = []
    for path in documents(root):
        text = path.read_text()
        if regenerate(text, root) != text:
            problems.append(Problem(path, "a generated block differs from its command's output "
                                          "(run python -m unlearnbench.devtools.docs)"))
        problems += dead_links(path) + unparsable(path)
    return problems


def main(argv: list[str] | None = None) -> int:
    """Regenerates the blocks in place, or with --check reports every problem and exits 1 on any."""
    parser = argparse.ArgumentParser(prog="python -m unlearnbench.devtools.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 on any problem")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository root (default: here)")
    args = parser.parse_args(argv)
    if not (args.root / "README.md").exists():
        print(f"no README.md under {args.root}; run from the repository root or pass --root", file=sys.stderr)
        return 2
    if args.check:
        problems = check(args.root)
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s) in {len(documents(args.root))} documents")
        return 1 if problems else 0
    for path in documents(args.root):
        text = path.read_text()
        new = regenerate(text, args.root)
        if new != text:
            path.write_text(new)
            print(f"regenerated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
