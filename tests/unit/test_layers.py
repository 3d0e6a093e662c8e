"""The house's shape, checked from the code's own imports (docs/architecture.md draws it): every module of
src/conveyor belongs to one layer, imports only its own layer or those below it, no two modules import each
other (directly or round a longer loop), stage entry modules do not import each other, the adapters do not
import each other, no module is over 400 lines, and each one's first line says what it is."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "conveyor"
MAX_LINES = 400

# Highest first. A module belongs to the first layer one of whose prefixes names it (or a package above it);
# every other module of the package is shared (errors, references, tag names, console, process, ...).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tasks", ("conveyor.tasks", "conveyor.cli")),
    ("init", ("conveyor.init",)),
    ("pipeline", ("conveyor.pipeline",)),
    ("wiring", ("conveyor.wiring",)),
    ("stages", ("conveyor.stages", "conveyor.jobimage")),
    ("guard", ("conveyor.guard",)),
    ("adapters", ("conveyor.docker", "conveyor.registry", "conveyor.kube", "conveyor.gitinfo")),
    ("config", ("conveyor.config",)),
    ("shared", ("conveyor",)),
)
ADAPTERS = ("conveyor.docker", "conveyor.registry", "conveyor.kube", "conveyor.gitinfo")
# The stages' entry modules (each a task's work); the other modules of conveyor.stages are helpers they share.
STAGE_ENTRIES = (
    "conveyor.stages.build",
    "conveyor.stages.test",
    "conveyor.stages.deploy",
    "conveyor.stages.rollback",
    "conveyor.stages.status",
    "conveyor.stages.cleanup",
    "conveyor.jobimage.build",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted((SRC / PACKAGE).rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """The package's modules `name` imports (anywhere in the file: at the top, under TYPE_CHECKING or inside
    a function), with the line, resolved to the longest known module name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        if isinstance(node, ast.ImportFrom) and len(targets) > 1:
            targets = targets[:-1]  # `from package import module`: the modules named, else the package
        for found in dict.fromkeys(longest_known(target, known) for target in targets):
            if found and found != name:
                yield found, node.lineno


def longest_known(target: str, known: set[str]) -> str | None:
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def layer_of(name: str) -> int:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes):
            return index
    raise AssertionError(f"{name} is in no layer")


def graph() -> dict[str, dict[str, int]]:
    found = modules()
    known = set(found)
    return {name: dict(imported(name, path, known)) for name, path in found.items()}


def top(name: str, prefixes: tuple[str, ...]) -> str:
    return next((p for p in prefixes if name == p or name.startswith(p + ".")), "")


def test_no_import_runs_back_up() -> None:
    problems = [
        f"{name} ({LAYERS[layer_of(name)][0]}) imports {target} ({LAYERS[layer_of(target)][0]}), line {line}"
        for name, targets in graph().items()
        for target, line in targets.items()
        if layer_of(target) < layer_of(name)
    ]
    assert problems == []


def test_no_two_modules_import_each_other() -> None:
    edges = {name: set(targets) for name, targets in graph().items()}
    # Package faces (`__init__`) that only hand names on are left out: importing a submodule imports its package.
    faces = {name for name, path in modules().items() if is_face(path)}
    edges = {name: {t for t in targets if t not in faces} for name, targets in edges.items() if name not in faces}
    circles = find_circles(edges)
    assert circles == []


def is_face(path: Path) -> bool:
    """A package's `__init__.py` that only hands names on: imports, its docstring and `__all__`."""
    if path.name != "__init__.py":
        return False
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return all(
        isinstance(node, ast.Import | ast.ImportFrom)
        or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        or (isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["__all__"])
        for node in body
    )


def find_circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected set of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == node:
                    break
            if len(members) > 1:
                found.append(sorted(members))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_circle_finder_finds_a_circle() -> None:
    assert find_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_circles({"a": {"b"}, "b": set()}) == []


def test_adapters_do_not_import_each_other() -> None:
    problems = [
        f"{name} imports {target}"
        for name, targets in graph().items()
        if (home := top(name, ADAPTERS))
        for target in targets
        if (other := top(target, ADAPTERS)) and other != home
    ]
    assert problems == []


def test_stage_entries_do_not_import_each_other() -> None:
    problems = [
        f"{name} imports {target}"
        for name, targets in graph().items()
        if name in STAGE_ENTRIES
        for target in targets
        if target in STAGE_ENTRIES
    ]
    assert problems == []


@pytest.mark.parametrize("name", sorted(modules()))
def test_each_module_fits_its_concern(name: str) -> None:
    path = modules()[name]
    text = path.read_text(encoding="utf-8")
    lines = len(text.splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(SRC)} has {lines} lines (at most {MAX_LINES})"
    docstring = ast.get_docstring(ast.parse(text))
    assert docstring, f"{path.relative_to(SRC)} has no first line saying what it is"
