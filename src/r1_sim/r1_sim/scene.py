"""Procedural indoor scenes: rooms on a grid joined by doors, with labelled furniture boxes.

Everything is axis-aligned boxes in the world frame (x east, y north, z up; metres), so the
MuJoCo world, the navigation map and the top-down plots are all built from the same lists.
A scene is fully determined by ``(seed, n_rooms)``; :func:`generate_scene` is reproducible.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

WALL_THICKNESS = 0.10
WALL_HEIGHT = 2.5
DOOR_WIDTH = 1.3

#: Furniture each room kind may hold: (label, size x, size y, size z, rgba).
FURNITURE: dict[str, tuple[tuple[str, float, float, float, tuple[float, float, float, float]], ...]] = {
    "bedroom": (
        ("bed", 1.6, 2.0, 0.5, (0.55, 0.35, 0.60, 1.0)),
        ("wardrobe", 1.0, 0.6, 2.0, (0.45, 0.30, 0.15, 1.0)),
        ("nightstand", 0.45, 0.45, 0.55, (0.60, 0.45, 0.25, 1.0)),
        ("plant", 0.4, 0.4, 1.0, (0.15, 0.60, 0.20, 1.0)),
    ),
    "living room": (
        ("sofa", 2.0, 0.9, 0.8, (0.75, 0.20, 0.20, 1.0)),
        ("coffee table", 1.0, 0.6, 0.45, (0.50, 0.35, 0.20, 1.0)),
        ("tv stand", 1.4, 0.45, 0.9, (0.15, 0.15, 0.15, 1.0)),
        ("plant", 0.4, 0.4, 1.0, (0.15, 0.60, 0.20, 1.0)),
        ("armchair", 0.8, 0.8, 0.8, (0.85, 0.55, 0.20, 1.0)),
    ),
    "kitchen": (
        ("fridge", 0.7, 0.7, 1.8, (0.90, 0.90, 0.95, 1.0)),
        ("counter", 1.8, 0.6, 0.9, (0.60, 0.60, 0.55, 1.0)),
        ("table", 1.2, 0.8, 0.75, (0.65, 0.45, 0.25, 1.0)),
        ("chair", 0.45, 0.45, 0.9, (0.30, 0.45, 0.70, 1.0)),
    ),
    "office": (
        ("desk", 1.4, 0.7, 0.75, (0.40, 0.30, 0.20, 1.0)),
        ("chair", 0.45, 0.45, 0.9, (0.30, 0.45, 0.70, 1.0)),
        ("bookshelf", 1.0, 0.35, 1.9, (0.55, 0.40, 0.25, 1.0)),
        ("plant", 0.4, 0.4, 1.0, (0.15, 0.60, 0.20, 1.0)),
    ),
    "bathroom": (
        ("bathtub", 1.6, 0.8, 0.6, (0.95, 0.95, 0.98, 1.0)),
        ("sink", 0.6, 0.45, 0.85, (0.85, 0.90, 0.95, 1.0)),
        ("toilet", 0.45, 0.65, 0.75, (0.98, 0.98, 0.98, 1.0)),
    ),
    "dining room": (
        ("dining table", 1.6, 0.9, 0.75, (0.55, 0.35, 0.20, 1.0)),
        ("chair", 0.45, 0.45, 0.9, (0.30, 0.45, 0.70, 1.0)),
        ("cabinet", 1.0, 0.45, 1.2, (0.50, 0.30, 0.25, 1.0)),
        ("plant", 0.4, 0.4, 1.0, (0.15, 0.60, 0.20, 1.0)),
    ),
    "hallway": (
        ("shoe rack", 0.9, 0.35, 0.5, (0.40, 0.25, 0.15, 1.0)),
        ("plant", 0.4, 0.4, 1.0, (0.15, 0.60, 0.20, 1.0)),
    ),
}
ROOM_KINDS: tuple[str, ...] = tuple(FURNITURE)
#: Floor colours per room kind, so rooms look different from the robot's camera.
FLOOR_RGBA: dict[str, tuple[float, float, float, float]] = {
    "bedroom": (0.70, 0.62, 0.52, 1.0),
    "living room": (0.62, 0.50, 0.38, 1.0),
    "kitchen": (0.80, 0.80, 0.78, 1.0),
    "office": (0.50, 0.55, 0.60, 1.0),
    "bathroom": (0.75, 0.85, 0.88, 1.0),
    "dining room": (0.66, 0.56, 0.46, 1.0),
    "hallway": (0.58, 0.58, 0.55, 1.0),
}


#: A 2-D point: a sequence or an array of x, y.
XY = Sequence[float] | NDArray[np.float64]


class SceneError(ValueError):
    """A scene file or name is invalid."""


@dataclass(frozen=True)
class Box:
    """An axis-aligned box: ``center`` (x, y, z) and full ``size`` (sx, sy, sz), metres."""

    center: tuple[float, float, float]
    size: tuple[float, float, float]

    def footprint(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the box seen from above."""
        cx, cy, _ = self.center
        sx, sy, _ = self.size
        return (cx - sx / 2, cy - sy / 2, cx + sx / 2, cy + sy / 2)

    def distance_xy(self, xy: XY) -> float:
        """Horizontal distance from a point to the box footprint (0 inside)."""
        x0, y0, x1, y1 = self.footprint()
        dx = max(x0 - xy[0], 0.0, xy[0] - x1)
        dy = max(y0 - xy[1], 0.0, xy[1] - y1)
        return math.hypot(dx, dy)


@dataclass(frozen=True)
class Room:
    """A rectangular room (inner floor area between wall centre lines)."""

    name: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float

    def contains(self, xy: XY) -> bool:
        """True when the point lies inside this room's rectangle."""
        return self.xmin <= xy[0] <= self.xmax and self.ymin <= xy[1] <= self.ymax

    @property
    def center(self) -> tuple[float, float]:
        """The room's centre point."""
        return ((self.xmin + self.xmax) / 2, (self.ymin + self.ymax) / 2)


@dataclass(frozen=True)
class Door:
    """An opening of ``width`` metres in the wall between two rooms, centred at ``center``."""

    rooms: tuple[str, str]
    center: tuple[float, float]
    width: float
    axis: str  # "x": the wall runs along x (door in a horizontal wall), "y": along y


@dataclass(frozen=True)
class SceneObject:
    """A labelled furniture box (``label`` is what instructions refer to)."""

    object_id: str
    label: str
    room: str
    box: Box
    rgba: tuple[float, float, float, float]


@dataclass(frozen=True)
class Scene:
    """An indoor scene: rooms, doors, wall boxes and labelled furniture, built from ``seed``."""

    name: str
    seed: int
    rooms: tuple[Room, ...]
    doors: tuple[Door, ...]
    walls: tuple[Box, ...]
    objects: tuple[SceneObject, ...]
    wall_height: float = WALL_HEIGHT
    version: int = 1
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the whole floor plan, walls included."""
        xs = [r.xmin for r in self.rooms] + [r.xmax for r in self.rooms]
        ys = [r.ymin for r in self.rooms] + [r.ymax for r in self.rooms]
        t = WALL_THICKNESS
        return (min(xs) - t, min(ys) - t, max(xs) + t, max(ys) + t)

    def room_at(self, xy: XY) -> Room | None:
        """The room containing a point, or None outside every room."""
        for room in self.rooms:
            if room.contains(xy):
                return room
        return None

    def room(self, name: str) -> Room:
        """A room by name; KeyError naming the valid rooms otherwise."""
        for room in self.rooms:
            if room.name == name:
                return room
        raise KeyError(f"scene '{self.name}' has no room '{name}'; rooms: {[r.name for r in self.rooms]}")

    def obstacles(self) -> tuple[Box, ...]:
        """Every box a robot can collide with: walls, then furniture."""
        return self.walls + tuple(o.box for o in self.objects)

    def label_count(self, label: str) -> int:
        """How many objects carry ``label``."""
        return sum(1 for o in self.objects if o.label == label)

    def to_json(self) -> str:
        """The scene as JSON text (see :func:`scene_from_dict` for the fields)."""
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Scene:
        """Parse JSON text written by :meth:`to_json`; :class:`SceneError` names a bad field."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SceneError(f"scene JSON is not valid JSON: {exc}") from exc
        return scene_from_dict(data)


def _f3(v: Any, what: str) -> tuple[float, float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 3:
        raise SceneError(f"scene field '{what}' must be a list of 3 numbers, got {v!r}")
    return (float(v[0]), float(v[1]), float(v[2]))


def _box(d: Any, what: str) -> Box:
    if not isinstance(d, dict):
        raise SceneError(f"scene field '{what}' must be an object with center and size")
    return Box(_f3(d.get("center"), f"{what}.center"), _f3(d.get("size"), f"{what}.size"))


def scene_from_dict(data: Any) -> Scene:
    """Build a scene from its JSON dict; :class:`SceneError` names the missing or bad field."""
    if not isinstance(data, dict):
        raise SceneError("scene JSON must be an object")
    try:
        rooms = tuple(
            Room(str(r["name"]), float(r["xmin"]), float(r["ymin"]), float(r["xmax"]), float(r["ymax"]))
            for r in data["rooms"]
        )
        doors = tuple(
            Door((str(d["rooms"][0]), str(d["rooms"][1])), (float(d["center"][0]), float(d["center"][1])),
                 float(d["width"]), str(d["axis"]))
            for d in data["doors"]
        )
        walls = tuple(_box(w, f"walls[{i}]") for i, w in enumerate(data["walls"]))
        objects = tuple(
            SceneObject(str(o["object_id"]), str(o["label"]), str(o["room"]), _box(o["box"], f"objects[{i}].box"),
                        tuple(float(c) for c in o["rgba"]))  # type: ignore[arg-type]
            for i, o in enumerate(data["objects"])
        )
        return Scene(str(data["name"]), int(data["seed"]), rooms, doors, walls, objects,
                     float(data.get("wall_height", WALL_HEIGHT)), int(data.get("version", 1)),
                     dict(data.get("meta", {})))
    except KeyError as exc:
        raise SceneError(f"scene JSON is missing field {exc}") from exc
    except (TypeError, ValueError, IndexError) as exc:
        if isinstance(exc, SceneError):
            raise
        raise SceneError(f"scene JSON has a malformed field: {exc}") from exc


def _walls_with_gaps(
    fixed: float, lo: float, hi: float, gaps: list[tuple[float, float]], along_x: bool
) -> list[Box]:
    """Wall boxes along one grid line from ``lo`` to ``hi``, leaving the door ``gaps`` open."""
    out: list[Box] = []
    cursor = lo
    for g0, g1 in [*sorted(gaps), (hi, hi)]:
        if g0 - cursor > 1e-6:
            mid, length = (cursor + g0) / 2, g0 - cursor
            if along_x:
                out.append(Box((mid, fixed, WALL_HEIGHT / 2), (length, WALL_THICKNESS, WALL_HEIGHT)))
            else:
                out.append(Box((fixed, mid, WALL_HEIGHT / 2), (WALL_THICKNESS, length, WALL_HEIGHT)))
        cursor = max(cursor, g1)
    return out


def _place_furniture(
    rng: np.random.Generator, room: Room, kind: str, doors: list[Door], prefix: str
) -> list[SceneObject]:
    """Put each furniture item of ``kind`` against a wall, away from doors and other items."""
    placed: list[SceneObject] = []
    margin = WALL_THICKNESS / 2 + 0.02
    for label, sx, sy, sz, rgba in FURNITURE[kind]:
        for _ in range(40):
            if rng.random() < 0.5:  # rotate by 90 degrees (still axis-aligned)
                sx, sy = sy, sx
            side = int(rng.integers(4))
            if side in (0, 1):  # against the south / north wall
                x = rng.uniform(room.xmin + margin + sx / 2, room.xmax - margin - sx / 2)
                y = room.ymin + margin + sy / 2 if side == 0 else room.ymax - margin - sy / 2
            else:  # against the west / east wall
                y = rng.uniform(room.ymin + margin + sy / 2, room.ymax - margin - sy / 2)
                x = room.xmin + margin + sx / 2 if side == 2 else room.xmax - margin - sx / 2
            box = Box((float(x), float(y), sz / 2), (sx, sy, sz))
            # Keep 1.5 m in front of every door and 0.8 m between items clear, so that the room stays
            # connected for a robot of ~0.35 m radius.
            if any(box.distance_xy(d.center) < 1.5 for d in doors):
                continue
            if any(_box_gap(box, p.box) < 0.8 for p in placed):
                continue
            placed.append(SceneObject(f"{prefix}_{label.replace(' ', '_')}", label, room.name, box, rgba))
            break
    return placed


def _box_gap(a: Box, b: Box) -> float:
    ax0, ay0, ax1, ay1 = a.footprint()
    bx0, by0, bx1, by1 = b.footprint()
    dx = max(bx0 - ax1, ax0 - bx1, 0.0)
    dy = max(by0 - ay1, ay0 - by1, 0.0)
    return math.hypot(dx, dy)


Cell = tuple[int, int]  # (row, column) of a room on the grid


def _grid_rooms(rng: np.random.Generator, n_rooms: int) -> tuple[dict[Cell, Room], list[str]]:
    """Rooms on a grid of 1 or 2 rows, in cell order, with their kinds."""
    rows = 1 if n_rooms <= 2 else 2
    cols = math.ceil(n_rooms / rows)
    # Room sizes 3.2-4.4 m keep episodes between rooms within 3-10 m of walking.
    widths = rng.uniform(3.2, 4.4, size=cols).round(2)
    heights = rng.uniform(3.2, 4.4, size=rows).round(2)
    xs = np.concatenate([[0.0], np.cumsum(widths)])
    ys = np.concatenate([[0.0], np.cumsum(heights)])
    kinds = list(rng.permutation(np.array(ROOM_KINDS, dtype=object))[:n_rooms])
    cells = [(r, c) for r in range(rows) for c in range(cols)][:n_rooms]
    rooms = {
        cell: Room(str(kind), float(xs[cell[1]]), float(ys[cell[0]]), float(xs[cell[1] + 1]),
                   float(ys[cell[0] + 1]))
        for cell, kind in zip(cells, kinds, strict=True)
    }
    return rooms, kinds


def _door_pairs(rng: np.random.Generator, cells: list[Cell]) -> list[tuple[Cell, Cell]]:
    """A random spanning tree over grid neighbours, plus one extra door for a loop when possible."""
    edges = [(a, b) for a in cells for b in cells
             if a < b and abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1]
    order = [edges[i] for i in rng.permutation(len(edges))]
    parent = {c: c for c in cells}

    def find(c: Cell) -> Cell:
        while parent[c] != c:
            c = parent[c]
        return c

    chosen: list[tuple[Cell, Cell]] = []
    spare = []
    for a, b in order:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
            chosen.append((a, b))
        else:
            spare.append((a, b))
    return chosen + spare[:1]


def _doors(rng: np.random.Generator, rooms: dict[Cell, Room], pairs: list[tuple[Cell, Cell]]) -> list[Door]:
    """A door at a random place (0.9 m from the corners) of each chosen shared wall."""
    doors: list[Door] = []
    for ca, cb in pairs:
        qa, qb = rooms[ca], rooms[cb]
        if ca[0] == cb[0]:  # same row: the shared wall is vertical (runs along y) at x
            x = max(qa.xmin, qb.xmin)
            y0, y1 = max(qa.ymin, qb.ymin), min(qa.ymax, qb.ymax)
            y = float(rng.uniform(y0 + 0.9, y1 - 0.9))
            doors.append(Door((qa.name, qb.name), (x, round(y, 2)), DOOR_WIDTH, "y"))
        else:  # shared wall runs along x at y
            y = max(qa.ymin, qb.ymin)
            x0, x1 = max(qa.xmin, qb.xmin), min(qa.xmax, qb.xmax)
            x = float(rng.uniform(x0 + 0.9, x1 - 0.9))
            doors.append(Door((qa.name, qb.name), (round(x, 2), y), DOOR_WIDTH, "x"))
    return doors


def _walls(rooms: dict[Cell, Room], doors: list[Door]) -> tuple[Box, ...]:
    """Every room edge as wall segments with the door gaps cut out; shared walls once."""
    walls: list[Box] = []
    # Horizontal grid lines (walls along x), split per room edge so partial rows work.
    segs: dict[tuple[str, float], list[tuple[float, float]]] = {}
    for room in rooms.values():
        for y in (room.ymin, room.ymax):
            segs.setdefault(("x", y), []).append((room.xmin, room.xmax))
        for x in (room.xmin, room.xmax):
            segs.setdefault(("y", x), []).append((room.ymin, room.ymax))
    for (axis, fixed), spans in sorted(segs.items()):
        for lo, hi in sorted(set(spans)):
            gaps = [
                ((d.center[0] if axis == "x" else d.center[1]) - d.width / 2,
                 (d.center[0] if axis == "x" else d.center[1]) + d.width / 2)
                for d in doors
                if d.axis == axis and abs((d.center[1] if axis == "x" else d.center[0]) - fixed) < 1e-6
                and lo <= (d.center[0] if axis == "x" else d.center[1]) <= hi
            ]
            walls += _walls_with_gaps(fixed, lo, hi, gaps, along_x=(axis == "x"))
    # Shared walls appear once per neighbour; drop exact duplicates.
    unique: dict[tuple[tuple[float, float, float], tuple[float, float, float]], Box] = {}
    for w in walls:
        key = (tuple(round(v, 4) for v in w.center), tuple(round(v, 4) for v in w.size))
        unique[key] = w  # type: ignore[index]
    return tuple(unique.values())


def generate_scene(seed: int, n_rooms: int = 4, name: str | None = None) -> Scene:
    """A reproducible scene of ``n_rooms`` (2-7) rooms on a grid of 1 or 2 rows, joined by doors."""
    if not 2 <= n_rooms <= len(ROOM_KINDS):
        raise SceneError(f"n_rooms must be between 2 and {len(ROOM_KINDS)}, got {n_rooms}")
    rng = np.random.default_rng(seed)  # one stream, drawn in this order: rooms, doors, furniture
    rooms, kinds = _grid_rooms(rng, n_rooms)
    doors = _doors(rng, rooms, _door_pairs(rng, list(rooms)))
    walls = _walls(rooms, doors)
    objects: list[SceneObject] = []
    for i, (cell, room) in enumerate(rooms.items()):
        room_doors = [d for d in doors if room.name in d.rooms]
        objects += _place_furniture(rng, room, kinds[i], room_doors, f"r{cell[0]}{cell[1]}")
    return Scene(
        name=name or f"procedural_{seed}_{n_rooms}",
        seed=seed,
        rooms=tuple(rooms.values()),
        doors=tuple(doors),
        walls=walls,
        objects=tuple(objects),
        meta={"n_rooms": n_rooms, "generator": "r1_sim.scene.generate_scene"},
    )


#: Named scenes: name -> (seed, n_rooms).  Small enough that episodes are 3-10 m long.
NAMED_SCENES: dict[str, tuple[int, int]] = {
    "flat_2room": (3, 2),
    "apartment_3room": (7, 3),
    "apartment_4room": (11, 4),
    "house_6room": (23, 6),
}


def load_scene(name_or_path: str | Path) -> Scene:
    """A named scene (``NAMED_SCENES``), ``seed:N[:rooms]``, ``procedural_N_rooms`` or a scene JSON file."""
    key = str(name_or_path)
    m = re.fullmatch(r"seed:(\d+)(?::(\d+))?|procedural_(\d+)_(\d+)", key)
    if m:
        seed = int(m.group(1) or m.group(3))
        rooms = int(m.group(2) or m.group(4) or 4)
        return generate_scene(seed, rooms)
    if key in NAMED_SCENES:
        seed, n = NAMED_SCENES[key]
        return generate_scene(seed, n, name=key)
    path = Path(key)
    if path.suffix == ".json" or path.is_file():
        try:
            text = path.read_text()
        except OSError as exc:
            raise SceneError(f"cannot read scene file {path}: {exc}") from exc
        return Scene.from_json(text)
    near = difflib.get_close_matches(key, list(NAMED_SCENES), n=1)
    hint = f" (did you mean '{near[0]}'?)" if near else ""
    raise SceneError(
        f"unknown scene '{key}'{hint}: expected one of {', '.join(NAMED_SCENES)}, seed:N[:rooms], "
        "or a path to a scene .json"
    )
