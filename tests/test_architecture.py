"""The layers hold: no import cycle anywhere in desk/, and the domain imports no framework.

The imports are read from the source (every `import` and `from ... import`, including those inside
functions, which is where a cycle usually hides), not from what Python happened to load.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "desk"


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module of desk/ by dotted name, with its file and whether it is a package's __init__."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, is_package)
    return found


def imports_of(name: str, path: Path, is_package: bool, known: set[str]) -> set[str]:
    """The modules of desk/ that this module imports. `from a import b` names a.b when b is a module."""
    package = name.split(".") if is_package else name.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                if f"{target}.{alias.name}" in known:
                    out.add(f"{target}.{alias.name}")
                elif target in known:
                    out.add(target)
    out.discard(name)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: imports_of(name, path, is_package, known) for name, (path, is_package) in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_the_cycle_finder_finds_a_cycle_and_passes_a_chain():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_the_graph_sees_relative_function_level_and_package_imports():
    graph = import_graph()
    assert len(graph) > 100, "every module of desk/ is read"
    # `from .post_rollup import roll_up as _roll_up`, a module-level relative import
    assert "desk.services.post_rollup" in graph["desk.services.publishing"]
    # `from ..platforms import PlatformContext` inside a function
    assert "desk.platforms" in graph["desk.web.context"]
    # `from . import grants, media, templates`: each a module of the package
    assert {"desk.web.api.grants", "desk.web.api.media"} <= graph["desk.web.api"]


def test_no_module_of_the_desk_takes_part_in_an_import_cycle():
    found = cycles(import_graph())
    assert found == [], "import cycles: " + "; ".join(" <-> ".join(group) for group in found)


FRAMEWORKS = ("flask", "flask_login", "flask_wtf", "werkzeug", "sqlalchemy", "requests", "requests_oauthlib",
              "alembic", "apscheduler")


@pytest.mark.parametrize("path", sorted((PACKAGE / "domain").rglob("*.py")), ids=lambda p: p.name)
def test_the_domain_imports_no_framework_and_nothing_outside_the_domain(path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        else:
            continue
        for name in names:
            assert name.split(".")[0] not in FRAMEWORKS, f"{path.name} imports {name}"
            assert not name.startswith("desk.") or name.startswith("desk.domain"), f"{path.name} imports {name}"
    relative_up = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level
                   and n.level > len(path.relative_to(PACKAGE / "domain").parts)]
    assert relative_up == [], f"{path.name} reaches outside desk/domain/ with a relative import"
