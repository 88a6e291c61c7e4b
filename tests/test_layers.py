"""The package's folders are the stages of the flow, and imports run one way.

Stages, lowest first (docs/architecture.md): a module may import the top-level basics
(`errors`, `terminal`), its own folder and the folders before its own; never a folder after it.
No module imports itself back through others (no loop), counting the imports inside functions
too, since a lazy import is still a dependency; only `if TYPE_CHECKING:` blocks are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "inspector"
STAGES = ("files", "vocab", "families", "formats", "spec", "checkpoint", "building", "values",
          "output", "cli")
BASICS = ("errors", "terminal")
MAX_LINES = 400  # "every module under about 400 lines"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported(path: Path, known: set[str]) -> set[str]:
    """The package's modules that `path` imports, anywhere in it but TYPE_CHECKING blocks."""
    tree = ast.parse(path.read_text(), str(path))
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _type_checking(node)
            for child in node.body for n in ast.walk(child)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("inspector")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith("inspector"):
                continue
            submodules = {f"{node.module}.{a.name}" for a in node.names
                          if f"{node.module}.{a.name}" in known}
            found |= submodules
            if len(submodules) < len(node.names):  # names defined in the module itself
                found.add(node.module)
    return {name for name in found if name in known and name != "inspector"}


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(paths)
    return {name: imported(path, known) - {name} for name, path in paths.items()}


def stage(module: str) -> int | None:
    """The index of the module's folder among STAGES; None for the top level."""
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and parts[1] in STAGES):
        return STAGES.index(parts[1]) if parts[1] in STAGES else None
    return None


def test_every_module_is_in_a_stage_or_is_a_known_top_level_one():
    top = {m for m in graph() if stage(m) is None}
    assert top == {"inspector", "inspector.__main__", "inspector.api", "inspector.testing",
                   "inspector.specs",  # the shipped specs' YAML: data, no code
                   *(f"inspector.{b}" for b in BASICS)}


def test_no_import_runs_back_up_the_stages():
    upward = []
    for module, targets in graph().items():
        here = stage(module)
        for target in targets:
            there = stage(target)
            if target.split(".")[-1] in BASICS and there is None:
                continue
            if here is None:  # the top level (api, testing, __main__) may import any stage
                continue
            if there is None or there > here:
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_no_import_loop():
    edges = graph()
    loops = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                loops.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert loops == []


def test_every_module_is_under_about_400_lines():
    long = {module_name(p): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
