"""The package graph, derived from the sources: every cross-package import declared, no cycle, nothing hidden.

Every ``import`` of the six packages' Python files is read with ``ast`` (module level and inside
functions). A package that imports another of ours must say so in ``package.xml``
(``exec_depend``) and in ``setup.py``'s ``install_requires``; the packages must form a DAG (what
``colcon build --packages-up-to`` needs); and no function may import another of our packages,
since a function-level import is how a cycle hides. Lazy imports of optional heavy third-party
libraries (torch, mujoco, habitat...) stay allowed: they are not our packages.
"""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGES = ("r1_core", "r1_description", "r1_sim", "stereo_adapter", "vla_r1", "nav_r1")
#: The intended layering (docs/architecture.md): a package may depend only on lower layers.
LAYERS = {"r1_core": 0, "r1_description": 1, "r1_sim": 2, "vla_r1": 2, "stereo_adapter": 3, "nav_r1": 4}


@dataclass(frozen=True)
class Import:
    """One import of another of our packages."""

    file: Path
    line: int
    module: str
    in_function: bool

    @property
    def package(self) -> str:
        return self.module.split(".")[0]

    def where(self) -> str:
        return f"{self.file.relative_to(SRC)}:{self.line} imports {self.module}"


def imports_of(path: Path, own: str) -> list[Import]:
    """Every import in ``path`` of one of our packages other than ``own``, function-level ones marked."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nested: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            nested.update(id(n) for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom)))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        for module in modules:
            top = module.split(".")[0]
            if top in PACKAGES and top != own:
                out.append(Import(path, node.lineno, module, id(node) in nested))
    return out


def package_imports(package: str) -> list[Import]:
    """The cross-package imports of every Python file of ``package`` (sources, launch files, setup.py)."""
    root = SRC / package
    return [imp for f in sorted(root.rglob("*.py")) for imp in imports_of(f, package)]


def declared_exec_depends(package: str) -> set[str]:
    root = ET.parse(SRC / package / "package.xml").getroot()
    return {el.text.strip() for tag in ("exec_depend", "depend") for el in root.iter(tag) if el.text}


def declared_install_requires(package: str) -> set[str]:
    tree = ast.parse((SRC / package / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "install_requires":
            return {re.split(r"[<>=!~ ;\[]", ast.literal_eval(el))[0] for el in node.value.elts}  # type: ignore[attr-defined]
    return set()


def import_graph() -> dict[str, set[str]]:
    """package -> the packages of ours it imports."""
    return {p: {imp.package for imp in package_imports(p)} for p in PACKAGES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return [*stack[stack.index(m):], m]
            if m not in state and (found := visit(m)) is not None:
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)) is not None:
            return found
    return None


def test_the_scanner_sees_module_and_function_level_imports(tmp_path: Path) -> None:
    """The checks below are only as good as this scanner: it must see both kinds and skip its own package."""
    code = ("import r1_sim.world\nfrom nav_r1 import x\n\n"
            "def f():\n    from stereo_adapter.node import N\n    import numpy\n")
    probe = tmp_path / "probe.py"
    probe.write_text(code)
    found = imports_of(probe, "nav_r1")
    assert [(i.module, i.in_function) for i in found] == [("r1_sim.world", False), ("stereo_adapter.node", True)]


def test_find_cycle_reports_a_cycle_and_accepts_a_dag() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_cross_package_import_is_declared(package: str) -> None:
    used = {imp.package for imp in package_imports(package)}
    undeclared_xml = used - declared_exec_depends(package)
    undeclared_pip = used - declared_install_requires(package)
    assert not undeclared_xml, (
        f"{package} imports {sorted(undeclared_xml)} without <exec_depend> in package.xml: "
        + "; ".join(i.where() for i in package_imports(package) if i.package in undeclared_xml))
    assert not undeclared_pip, f"{package}/setup.py install_requires lacks {sorted(undeclared_pip)}"


def test_declared_dependencies_among_our_packages_form_a_dag() -> None:
    declared = {p: declared_exec_depends(p) & set(PACKAGES) for p in PACKAGES}
    assert find_cycle(declared) is None, f"package.xml dependency cycle: {find_cycle(declared)}"


def test_imports_form_a_dag_in_the_documented_layers() -> None:
    graph = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle between packages: {' -> '.join(cycle)}"
    upward = [f"{p} -> {q}" for p, qs in graph.items() for q in qs if LAYERS[q] >= LAYERS[p]]
    assert not upward, f"imports against the layering of docs/architecture.md: {upward}"


def test_no_function_level_import_of_another_of_our_packages() -> None:
    hidden = [imp.where() for p in PACKAGES for imp in package_imports(p) if imp.in_function]
    assert not hidden, "function-level imports hide package dependencies; import at module level:\n" + "\n".join(
        hidden)
