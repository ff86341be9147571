"""Facts about a labelled scene and the programs the scene tasks ask about.

Every generated question carries a small program (``{"op": "count", "label": "chair"}``) and the
privileged expert answers it by executing the program on the scene's labels (:func:`execute`) —
a second implementation beside the generator's own bookkeeping, so the two are checked against each
other. Objects are referred to as "the {label}" when the label is unique in the scene and as "the
{label} in the {room}" otherwise (room kinds are unique per scene, and labels unique per room).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from r1_sim.scene import Scene, SceneObject, _box_gap

#: Named colours for the furniture rgba (nearest in RGB).
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.75, 0.2, 0.2), "orange": (0.85, 0.55, 0.2), "yellow": (0.9, 0.85, 0.2), "green": (0.15, 0.6, 0.2),
    "blue": (0.3, 0.45, 0.7), "purple": (0.55, 0.35, 0.6), "brown": (0.55, 0.38, 0.22), "black": (0.15, 0.15, 0.15),
    "white": (0.95, 0.95, 0.97), "grey": (0.6, 0.6, 0.55),
}


class ProgramError(ValueError):
    """A program names an unknown op, object or field."""


def colour_name(rgba: Sequence[float]) -> str:
    """The nearest named colour."""
    c = np.asarray(rgba[:3], dtype=float)
    return min(COLOURS, key=lambda n: float(np.sum((np.asarray(COLOURS[n]) - c) ** 2)))


def find_object(scene: Scene, object_id: str) -> SceneObject:
    """An object by id; :class:`ProgramError` otherwise."""
    for o in scene.objects:
        if o.object_id == object_id:
            return o
    raise ProgramError(f"scene '{scene.name}' has no object '{object_id}'")


def name_of(scene: Scene, obj: SceneObject) -> str:
    """How questions refer to ``obj``: unique in the scene, or qualified by its room."""
    return f"the {obj.label}" if scene.label_count(obj.label) == 1 else f"the {obj.label} in the {obj.room}"


def nearest(scene: Scene, obj: SceneObject) -> SceneObject | None:
    """The other object in the same room with the smallest footprint gap (None when alone)."""
    others = [o for o in scene.objects if o.room == obj.room and o.object_id != obj.object_id]
    return min(others, key=lambda o: (_box_gap(obj.box, o.box), o.object_id)) if others else None


def height_text(obj: SceneObject) -> str:
    """The object's height, rounded to 0.1 m (``"0.9 m"``)."""
    return f"{obj.box.size[2]:.1f} m"


def wall_side(scene: Scene, obj: SceneObject) -> str:
    """Which wall of its room the object stands against (north/south/east/west)."""
    room = scene.room(obj.room)
    x0, y0, x1, y1 = obj.box.footprint()
    gaps = {"south": y0 - room.ymin, "north": room.ymax - y1, "west": x0 - room.xmin, "east": room.xmax - x1}
    return min(gaps, key=lambda k: gaps[k])


def caption(scene: Scene, obj: SceneObject, variant: int = 0) -> str:
    """A templated caption of ``obj`` (variants give several references for CIDEr)."""
    colour, near = colour_name(obj.rgba), nearest(scene, obj)
    near_text = f" next to the {near.label}" if near is not None else ""
    if variant == 0:
        return f"a {colour} {obj.label} in the {obj.room}{near_text}, {height_text(obj)} tall"
    if variant == 1:
        return f"the {colour} {obj.label} stands against the {wall_side(scene, obj)} wall of the {obj.room}"
    return f"there is a {obj.label} in the {obj.room}, it is {colour}{near_text}"


def plan_steps(scene: Scene, source: SceneObject, dest: SceneObject) -> list[str]:
    """Executable steps to carry an item from ``source`` to ``dest`` (navigation and arm skills)."""
    steps = []
    if source.room != dest.room:
        steps.append(f"navigate to the {source.room}")
    steps += [f"navigate to the {source.label}", f"pick up the item from the {source.label}"]
    if source.room != dest.room:
        steps.append(f"navigate to the {dest.room}")
    steps += [f"navigate to the {dest.label}", f"place the item on the {dest.label}"]
    return steps


def _obj(scene: Scene, program: dict[str, Any], key: str = "object") -> SceneObject:
    oid = program.get(key)
    if not isinstance(oid, str):
        raise ProgramError(f"program field '{key}' must be an object id")
    return find_object(scene, oid)


def execute(scene: Scene, program: dict[str, Any]) -> str:
    """The answer to ``program`` from the scene's labels (the privileged expert's knowledge)."""
    op = program.get("op")
    if op == "count":
        room = program.get("room")
        label = program.get("label")
        return str(sum(1 for o in scene.objects if o.label == label and (room is None or o.room == room)))
    if op == "count_room":
        return str(sum(1 for o in scene.objects if o.room == program.get("room")))
    if op == "exists":
        room = program.get("room")
        hit = any(o.label == program.get("label") and (room is None or o.room == room) for o in scene.objects)
        return "yes" if hit else "no"
    if op == "rooms_with":
        rooms = sorted({o.room for o in scene.objects if o.label == program.get("label")})
        return " and ".join(rooms) if rooms else "none"
    if op == "colour":
        return colour_name(_obj(scene, program).rgba)
    if op == "height":
        return height_text(_obj(scene, program))
    if op == "room_of":
        return _obj(scene, program).room
    if op == "nearest":
        near = nearest(scene, _obj(scene, program))
        return near.label if near is not None else "nothing"
    if op == "taller":
        a, b = _obj(scene, program, "a"), _obj(scene, program, "b")
        return "yes" if a.box.size[2] > b.box.size[2] else "no"
    if op == "wall":
        return wall_side(scene, _obj(scene, program))
    if op == "caption":
        return caption(scene, _obj(scene, program))
    if op == "plan":
        return "; ".join(plan_steps(scene, _obj(scene, program, "source"), _obj(scene, program, "dest")))
    raise ProgramError(f"unknown program op {op!r}")


def distinct_heights(a: SceneObject, b: SceneObject) -> bool:
    """True when the heights differ enough to ask which is taller."""
    return math.fabs(a.box.size[2] - b.box.size[2]) >= 0.15


__all__ = ["COLOURS", "ProgramError", "caption", "colour_name", "distinct_heights", "execute", "find_object",
           "height_text", "name_of", "nearest", "plan_steps", "wall_side"]
