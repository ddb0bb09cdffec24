"""The allowed import directions between unlearnbench's sub-packages, and a check that the code keeps them.

Run `python -m unlearnbench.devtools.layers`: it prints the table and every violation, and exits 1 on any.
Only imports executed at run time count: an import under `if TYPE_CHECKING:` names a type, not a dependency.
"""
from __future__ import annotations

import ast
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = "unlearnbench"
# Layer -> the layers (or single modules) its code may import; every layer may import itself and the root package
# (for __version__). Read downwards: nothing below imports anything above it.
ALLOWED: dict[str, tuple[str, ...]] = {
    "core": (),
    "timing": ("core",),
    "data": ("core",),
    "models": ("core", "timing", "data"),
    "metrics": ("core", "data", "models.inference"),
    "reports": ("core", "timing", "data", "metrics"),
    "datasets": ("core", "data"),
    "execution": ("core", "timing", "data", "models", "metrics", "reports"),
    "methods": ("core", "data", "models", "execution.context"),
    "tuning": ("core", "timing", "data", "models", "metrics", "reports", "execution"),
    "speed": ("core", "timing", "data", "models", "metrics", "reports", "execution"),
    "api": ("core", "timing", "data", "models", "metrics", "reports", "execution", "tuning", "speed"),
    "testing": ("core", "timing", "data", "models", "metrics", "reports", "execution"),
    "cli": ("core", "timing", "data", "models", "metrics", "reports", "execution", "tuning", "speed", "api"),
    "devtools": ("core", "timing", "data", "models", "metrics", "reports", "execution", "methods", "tuning", "speed",
                 "api", "cli"),
}
WHY = {
    "core": "contracts: errors, registries, plugins, Configs, search spaces, Method, seed streams",
    "timing": "the phase timer, contention, threads and the machine's description",
    "data": "datasets as tensors, forget specifications, augmentation",
    "models": "architectures and layouts, recipes, the training loop, optimisers",
    "metrics": "metrics from model outputs; inference only, never training",
    "reports": "renders stored rows; never runs or tunes anything",
    "datasets": "the built-in dataset families",
    "methods": "unlearning methods: the core, data, models and the context they are handed",
    "execution": "settings, caches, evaluation, the runner, the store, suites, sweeps, backends, populations",
    "tuning": "equal-budget tuning",
    "speed": "the speed bench and its plain loops",
    "api": "the public Python API (unlearnbench.run)",
    "testing": "the public method contract (unlearnbench.testing.check_method)",
    "cli": "the command line",
    "devtools": "developer tools: import directions, docs checks and the tables they generate, shipped defaults",
}


@dataclass(frozen=True)
class Violation:
    """One import that goes against the table."""

    path: Path
    line: int
    layer: str
    imported: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.layer} imports {self.imported}"


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"cannot find package {name}; install unlearnbench first (pip install -e .)")
    return Path(list(spec.submodule_search_locations)[0])


def _modules() -> Iterator[tuple[str, Path]]:
    """(dotted name relative to the root, file) for every module of the package and its mapped folders."""
    separate = ("methods", "datasets", "reports")  # folders of their own, mapped into the package
    root = _package_dir(ROOT)
    folders = [(root, ""), *((_package_dir(f"{ROOT}.{name}"), f"{name}.") for name in separate)]
    for folder, prefix in folders:
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if not prefix and parts[0] in separate:
                continue
            yield prefix + ".".join(p for p in parts if p != "__init__"), path


def layer_of(module: str) -> str | None:
    """The layer a module (relative dotted name) belongs to; None for the root package itself."""
    head = module.split(".")[0]
    return head or None


def _runtime_imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, imported module relative to the root) for every import of the package outside TYPE_CHECKING blocks."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == ROOT:
                names = [alias.name for alias in node.names]
            elif node.module.startswith(ROOT + "."):
                names = [node.module[len(ROOT) + 1:]]
        elif isinstance(node, ast.Import):
            names = [a.name[len(ROOT) + 1:] for a in node.names if a.name.startswith(ROOT + ".")]
        for name in names:
            yield node.lineno, name


def allowed(layer: str, imported: str) -> bool:
    """Whether code in `layer` may import the module `imported` (relative dotted name)."""
    if imported.startswith("__") or layer_of(imported) == layer:
        return True
    return any(imported == rule or imported.startswith(rule + ".") for rule in ALLOWED[layer])


def violations() -> list[Violation]:
    """Every runtime import in the package that the table does not allow."""
    found = []
    for module, path in _modules():
        layer = layer_of(module)
        if layer is None:
            continue
        if layer not in ALLOWED:
            found.append(Violation(path, 1, layer, "(a layer missing from ALLOWED: add it to the table)"))
            continue
        for line, imported in _runtime_imports(ast.parse(path.read_text(), str(path))):
            if not allowed(layer, imported):
                found.append(Violation(path, line, layer, imported))
    return found


def table() -> str:
    """The layers, what each holds and what each may import."""
    width = max(map(len, ALLOWED))
    return "\n".join(f"{layer:<{width}}  may import: {', '.join(rules) or '(nothing else)'}\n"
                     f"{'':<{width}}  {WHY[layer]}" for layer, rules in ALLOWED.items())


def markdown_table() -> str:
    """The layers as a Markdown table, lowest first."""
    lines = ["| layer | holds | may import |", "|---|---|---|"]
    lines += [f"| `{layer}` | {WHY[layer]} | {', '.join(f'`{r}`' for r in rules) or '-'} |"
              for layer, rules in ALLOWED.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Prints the table and the violations (1 when there is any), or with --markdown the table for the docs."""
    if "--markdown" in (sys.argv[1:] if argv is None else argv):
        print(markdown_table())
        return 0
    print(table())
    found = violations()
    print(f"\n{len(found)} violation(s)")
    for v in found:
        print(f"  {v}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
