"""r1_core.topics is the one declaration of the public topic names that docs/graph.md documents."""

from __future__ import annotations

import re
from pathlib import Path

from r1_core import topics

DOC = Path(__file__).resolve().parents[2] / "docs" / "graph.md"


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
