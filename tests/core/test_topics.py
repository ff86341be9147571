"""r1_core.topics is the one declaration of the public topic names that docs/graph.md documents."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from r1_core import topics

DOC = Path(__file__).resolve().parents[2] / "docs" / "graph.md"
SRC = Path(__file__).resolve().parents[2] / "src"


def declared() -> dict[str, str]:
    return {k: v for k, v in vars(topics).items() if k.isupper() and isinstance(v, str)}


def documented() -> set[str]:
    """The topic names in the first column of docs/graph.md's tables (``camera_info`` expanded per camera)."""
    names: set[str] = set()
    for line in DOC.read_text().splitlines():
        if not line.startswith("| `"):
            continue
        first = line.split("|")[1]
        found = re.findall(r"`([^`]+)`", first)
        if "camera_info" in found:  # "`stereo/left/image_rect`, ... (+ `camera_info` each)"
            found = [f for f in found if f != "camera_info"]
            found += [f.rsplit("/", 1)[0] + "/camera_info" for f in found]
        names.update(found)
    return names


def test_every_documented_topic_is_declared_once() -> None:
    values = list(declared().values())
    assert len(values) == len(set(values)), "two constants name the same topic"
    missing = documented() - set(values)
    assert not missing, f"docs/graph.md names topics r1_core.topics does not declare: {sorted(missing)}"


def test_names_are_relative_except_the_clock() -> None:
    absolute = {k for k, v in declared().items() if v.startswith("/")}
    assert absolute == {"CLOCK"}, "relative names keep a namespace per robot working"



def _frame_id_literals(tree: ast.AST) -> set[int]:
    """ids of the string constants given as frame ids (``odom`` is a frame as well as a topic)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            positional = [*a.posonlyargs, *a.args]
            pairs = list(zip(positional[len(positional) - len(a.defaults):], a.defaults, strict=True))
            pairs += [(arg, d) for arg, d in zip(a.kwonlyargs, a.kw_defaults, strict=True) if d is not None]
            found.update(id(d) for arg, d in pairs if "frame" in arg.arg)
        elif isinstance(node, ast.keyword) and node.arg and "frame" in node.arg:
            found.add(id(node.value))
        elif (isinstance(node, ast.AnnAssign) and node.value is not None and isinstance(node.target, ast.Name)
              and "frame" in node.target.id):
            # a parameter declaration: ``odom_frame: str = param("odom", "...")``
            found.update(id(c) for c in ast.walk(node.value))
        elif isinstance(node, ast.Dict):  # ``{"frame": "odom"}`` in a written record
            found.update(id(v) for k, v in zip(node.keys, node.values, strict=True)
                         if isinstance(k, ast.Constant) and isinstance(k.value, str) and "frame" in k.value)
    return found


def topic_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of each string constant in ``source`` that is a public topic name (frame ids aside)."""
    names = {v.lstrip("/") for v in declared().values()}
    tree = ast.parse(source)
    frames = _frame_id_literals(tree)
    return sorted((n.lineno, n.value) for n in ast.walk(tree)
                  if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.lstrip("/") in names
                  and id(n) not in frames)


def test_the_scan_finds_topic_literals_and_passes_frame_ids() -> None:
    code = ('def f(odom_frame: str = "odom") -> None:\n'
            '    node.create_subscription(Odometry, "odom", cb, frame_id="odom")\n'
            '    pub = node.create_publisher(Twist, "/cmd_vel", 10)\n'
            'odom_frame: str = param("odom", "Frame plans must be in")\n'
            'camera = "camera/depth/image_raw_other"\n'
            'record = {"frame": "odom", "topic": "odom"}\n')
    assert topic_literals(code) == [(2, "odom"), (3, "/cmd_vel"), (6, "odom")]


def test_no_module_names_a_public_topic_but_r1_core_topics() -> None:
    """Every node, launch file and tool takes its topic names from r1_core.topics."""
    own = SRC / "r1_core" / "r1_core" / "topics.py"
    found = [f"{path.relative_to(SRC)}:{line}: {text!r}"
             for path in sorted(SRC.rglob("*.py")) if path != own
             for line, text in topic_literals(path.read_text())]
    assert not found, "use r1_core.topics instead of these literals:\n" + "\n".join(found)
