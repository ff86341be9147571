"""Scene data engine: QA, grounding, captions, dialogue and plans over labelled procedural scenes.

Layout written by :func:`write_dataset` (``nav-r1 scene-data --out DIR``)::

    DIR/card.json, DIR/README.md             the dataset card (counts per split and task, generator settings)
    DIR/{train,val,test}.jsonl               one row per sample; splits are by scene, never within one
    DIR/scenes/<scene>/scene.json            the labelled scene (r1_sim.scene JSON)
    DIR/scenes/<scene>/views.json            intrinsics and odom_T_camera of every rendered view
    DIR/scenes/<scene>/rgb/NNN.png, depth/NNN.png   colour and 16-bit depth in millimetres

Every row has ``task``, ``qtype``, ``question``, ``answer``, ``think`` and ``target`` (the
``<think>…</think><answer>…</answer>`` text a model is trained to emit), ``program`` (what the
expert executes), ``views``/``images`` (the k views chosen for the row). Grounding rows add ``box``
(ground-truth 3D box), ``view`` and ``box_2d`` (the object's visible extent in that view); captions
add ``references``; dense captions ``objects``; dialogues ``turns``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from nav_r1.data.rows import hf_card_header
from nav_r1.scene.memory import MemoryConfig, SceneMemory
from nav_r1.scene.procedural import (
    default_intrinsics,
    object_box,
    render_boxes,
    render_frame,
    room_view_poses,
    visible_box_2d,
)
from nav_r1.scene.tasks import (
    caption,
    colour_name,
    distinct_heights,
    execute,
    height_text,
    name_of,
    nearest,
    plan_steps,
    wall_side,
)
from nav_r1.scene.views import select_views
from r1_core.params import ParamError, param, validate_params
from r1_core.paths import swap_in
from r1_sim.scene import FURNITURE, Scene, SceneObject, generate_scene

SCHEMA = "nav_r1.scene_data/1"
TASKS = ("qa", "grounding", "object_caption", "dense_caption", "dialogue", "plan")
#: object id -> (the view that shows it best, its visible 2D box there).
Visibility = dict[str, tuple[int, tuple[float, float, float, float]]]
ALL_LABELS = sorted({item[0] for items in FURNITURE.values() for item in items})


@dataclass(frozen=True)
class DataConfig:
    """What the data engine generates."""

    scenes: int = param(12, "Procedural scenes (split by scene)", min=3, max=10_000)
    seed: int = param(0, "Seed of the first scene and of the question sampler", min=0)
    min_rooms: int = param(3, "Fewest rooms per scene", min=2, max=7)
    max_rooms: int = param(5, "Most rooms per scene", min=2, max=7)
    views_per_room: int = param(4, "Rendered views per room", min=1, max=16)
    views_per_row: int = param(4, "Views given with each row (3D-R1 uses 4 of 8 candidates)", min=1, max=16)
    width: int = param(160, "View width [pixels]", min=16, max=1920)
    height: int = param(120, "View height [pixels]", min=16, max=1080)
    val_fraction: float = param(0.15, "Fraction of scenes in val", min=0.0, max=0.5)
    test_fraction: float = param(0.25, "Fraction of scenes in test", min=0.0, max=0.5)
    # Real depth sensors are noisy (structured light ~1-2 % of the depth at a few metres); rendered
    # depth is exact, so grounding figures without noise flatter the lifting.
    depth_noise: float = param(0.0, "Gaussian depth noise on the saved views, 1 sigma as a fraction of the depth",
                               min=0.0, max=0.2)

    def __post_init__(self) -> None:
        validate_params(self)
        if self.min_rooms > self.max_rooms:
            raise ValueError(f"min_rooms ({self.min_rooms}) is above max_rooms ({self.max_rooms})")


def _target(think: str, answer: str) -> str:
    return f"<think>{think}</think><answer>{answer}</answer>"


def _row(task: str, qtype: str, question: str, answer: str, think: str, program: dict[str, Any],
         **extra: Any) -> dict[str, Any]:
    return {"task": task, "qtype": qtype, "question": question, "answer": answer, "think": think,
            "target": _target(think, answer), "program": program, **extra}


def qa_rows(scene: Scene, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Counting, existence, attribute and spatial-relation questions with templated reasoning."""
    rows: list[dict[str, Any]] = []
    labels = sorted({o.label for o in scene.objects})
    for label in labels:
        where = [o.room for o in scene.objects if o.label == label]
        n = len(where)
        rows.append(_row("qa", "count", f"How many {label}s are there?", str(n),
                         f"I look for every {label}: " + ", ".join(f"one in the {r}" for r in where)
                         + f". That makes {n}.", {"op": "count", "label": label}))
    for room in scene.rooms:
        inside = [o.label for o in scene.objects if o.room == room.name]
        rows.append(_row("qa", "count", f"How many pieces of furniture are in the {room.name}?", str(len(inside)),
                         f"In the {room.name} I see " + (", ".join(inside) or "nothing") + f": {len(inside)} in all.",
                         {"op": "count_room", "room": room.name}))
    absent = [lb for lb in ALL_LABELS if lb not in labels]
    for label in list(rng.permutation(labels))[:3] + list(rng.permutation(absent))[:3]:
        where = [o.room for o in scene.objects if o.label == label]
        think = (f"I see a {label} in the {where[0]}." if where
                 else f"I check every room ({', '.join(r.name for r in scene.rooms)}) and find no {label}.")
        rows.append(_row("qa", "exists", f"Is there a {label} in this home?", "yes" if where else "no", think,
                         {"op": "exists", "label": str(label)}))
    for obj in scene.objects:
        name = name_of(scene, obj)
        rows.append(_row("qa", "colour", f"What colour is {name}?", colour_name(obj.rgba),
                         f"I find {name}; its surface looks {colour_name(obj.rgba)}.",
                         {"op": "colour", "object": obj.object_id}))
        rows.append(_row("qa", "height", f"How tall is {name}?", height_text(obj),
                         f"{name.capitalize()} reaches from the floor to about {height_text(obj)}.",
                         {"op": "height", "object": obj.object_id}))
        if scene.label_count(obj.label) == 1:
            rows.append(_row("qa", "room", f"Which room is {name} in?", obj.room,
                             f"I see {name} in the view of the {obj.room}.",
                             {"op": "room_of", "object": obj.object_id}))
        near = nearest(scene, obj)
        if near is not None:
            rows.append(_row("qa", "nearest", f"What is the closest piece of furniture to {name}?", near.label,
                             f"In the {obj.room}, {name_of(scene, near)} is the nearest to {name}.",
                             {"op": "nearest", "object": obj.object_id}))
        rows.append(_row("qa", "wall", f"Which wall of the {obj.room} is {name} against?", wall_side(scene, obj),
                         f"{name.capitalize()} stands along the {wall_side(scene, obj)} side of the {obj.room}.",
                         {"op": "wall", "object": obj.object_id}))
    objs = list(scene.objects)
    for _ in range(min(6, len(objs))):
        a, b = (objs[int(i)] for i in rng.choice(len(objs), 2, replace=False))
        if not distinct_heights(a, b):
            continue
        ans = "yes" if a.box.size[2] > b.box.size[2] else "no"
        rows.append(_row("qa", "taller", f"Is {name_of(scene, a)} taller than {name_of(scene, b)}?", ans,
                         f"{name_of(scene, a).capitalize()} is about {height_text(a)} tall and "
                         f"{name_of(scene, b)} about {height_text(b)}.",
                         {"op": "taller", "a": a.object_id, "b": b.object_id}))
    return rows


def referring_expression(scene: Scene, obj: SceneObject, variant: int) -> str:
    """A unique description of ``obj``: by colour and room, by its neighbour, or by its wall."""
    colour = colour_name(obj.rgba)
    if variant == 0:
        return f"the {colour} {obj.label} in the {obj.room}"
    near = nearest(scene, obj)
    if variant == 1 and near is not None:
        return f"the {obj.label} next to the {near.label} in the {obj.room}"
    return f"the {obj.label} against the {wall_side(scene, obj)} wall of the {obj.room}"


def object_rows(scene: Scene, visibility: Visibility,
                rng: np.random.Generator) -> list[dict[str, Any]]:
    """Grounding (referring expressions with 3D boxes) and object captions, for objects some view shows."""
    rows: list[dict[str, Any]] = []
    for obj in scene.objects:
        if obj.object_id not in visibility:
            continue
        view, box2d = visibility[obj.object_id]
        box = object_box(obj.box).to_dict()
        expr = referring_expression(scene, obj, int(rng.integers(3)))
        answer = json.dumps({"answer": obj.label, "objects": [{"label": obj.label, "box_3d": box}]})
        rows.append(_row("grounding", "refer", f"Find {expr}.", answer,
                         f"{expr.capitalize()} shows in view {view}; I lift its image box through the depth.",
                         {"op": "locate", "object": obj.object_id}, object_id=obj.object_id, box=box, view=view,
                         box_2d=list(box2d)))
        refs = [caption(scene, obj, v) for v in range(3)]
        rows.append(_row("object_caption", "caption", f"Describe {name_of(scene, obj)}.", refs[0],
                         f"I look at {name_of(scene, obj)} in view {view}: its colour, size and neighbours.",
                         {"op": "caption", "object": obj.object_id}, object_id=obj.object_id, references=refs,
                         box=box, view=view))
    return rows


def dense_rows(scene: Scene, visibility: Visibility) -> list[dict[str, Any]]:
    """Dense captioning per room: every visible object with its 3D box and caption."""
    rows = []
    for room in scene.rooms:
        objs = [o for o in scene.objects if o.room == room.name and o.object_id in visibility]
        if not objs:
            continue
        items = [{"label": o.label, "box_3d": object_box(o.box).to_dict(), "caption": caption(scene, o)} for o in objs]
        answer = json.dumps({"answer": f"{len(items)} objects", "objects": items})
        rows.append(_row("dense_caption", "dense", f"Describe every object in the {room.name}.", answer,
                         f"I go through the {room.name} view by view and describe each object once.",
                         {"op": "dense", "room": room.name},
                         objects=[{"object_id": o.object_id, "label": o.label, "box": it["box_3d"],
                                   "references": [caption(scene, o, v) for v in range(3)]}
                                  for o, it in zip(objs, items, strict=True)]))
    return rows


def dialogue_rows(scene: Scene, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Multi-turn chains whose later turns refer back with "it"."""
    rows = []
    for obj in list(rng.permutation(np.array(scene.objects, dtype=object)))[:4]:
        assert isinstance(obj, SceneObject)
        near = nearest(scene, obj)
        turns = [
            ("exists", f"Is there a {obj.label} in the {obj.room}?", {"op": "exists", "label": obj.label,
                                                                      "room": obj.room},
             f"I check the {obj.room} and find the {obj.label}."),
            ("colour", "What colour is it?", {"op": "colour", "object": obj.object_id},
             f"'It' is the {obj.label} in the {obj.room} from the last turn; it looks {colour_name(obj.rgba)}."),
            ("height", "How tall is it?", {"op": "height", "object": obj.object_id},
             f"Still the {obj.label}: about {height_text(obj)} tall."),
        ]
        if near is not None:
            turns.append(("nearest", "What is next to it?", {"op": "nearest", "object": obj.object_id},
                          f"Beside the {obj.label} stands the {near.label}."))
        out = [{"qtype": q, "question": text, "answer": execute(scene, prog), "think": think,
                "target": _target(think, execute(scene, prog)), "program": prog} for q, text, prog, think in turns]
        rows.append(_dialogue(out))
    # Negative chains: the object is not where asked, "one" refers to it in the next turn.
    unique = [o for o in scene.objects if scene.label_count(o.label) == 1]
    for obj in list(rng.permutation(np.array(unique, dtype=object)))[:2]:
        assert isinstance(obj, SceneObject)
        elsewhere = [r.name for r in scene.rooms if r.name != obj.room]
        if not elsewhere:
            continue
        asked = str(elsewhere[int(rng.integers(len(elsewhere)))])
        turns = [
            ("exists", f"Is there a {obj.label} in the {asked}?", {"op": "exists", "label": obj.label, "room": asked},
             f"I check the {asked}: there is no {obj.label} there."),
            ("rooms", "Which room has one?", {"op": "rooms_with", "label": obj.label},
             f"'One' means a {obj.label}; the only one is in the {obj.room}."),
            ("colour", "What colour is it?", {"op": "colour", "object": obj.object_id},
             f"The {obj.label} in the {obj.room} looks {colour_name(obj.rgba)}."),
        ]
        out = [{"qtype": q, "question": text, "answer": execute(scene, prog), "think": think,
                "target": _target(think, execute(scene, prog)), "program": prog} for q, text, prog, think in turns]
        rows.append(_dialogue(out))
    return rows


def _dialogue(turns: list[dict[str, Any]]) -> dict[str, Any]:
    first = turns[0]
    return {"task": "dialogue", "qtype": "chain", "question": first["question"], "answer": first["answer"],
            "think": first["think"], "target": first["target"], "program": {"op": "dialogue"}, "turns": turns}


def plan_rows(scene: Scene, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Fetch-and-place plans between objects, decomposed into navigation and arm steps."""
    rows = []
    objs = [o for o in scene.objects if scene.label_count(o.label) == 1]
    for _ in range(min(4, len(objs) // 2)):
        src, dst = (objs[int(i)] for i in rng.choice(len(objs), 2, replace=False))
        steps = plan_steps(scene, src, dst)
        rows.append(_row("plan", "fetch", f"Bring the item from the {src.label} to the {dst.label}.", "; ".join(steps),
                         f"The {src.label} is in the {src.room} and the {dst.label} in the {dst.room}; "
                         "I go to the first, pick the item up, then carry it to the second.",
                         {"op": "plan", "source": src.object_id, "dest": dst.object_id}))
    return rows


def scene_split(index: int, n: int, cfg: DataConfig) -> str:
    """Which split scene ``index`` of ``n`` goes to (the last ones to test, then val)."""
    n_test = max(1, round(n * cfg.test_fraction))
    n_val = max(1, round(n * cfg.val_fraction)) if cfg.val_fraction > 0 else 0
    if index >= n - n_test:
        return "test"
    if index >= n - n_test - n_val:
        return "val"
    return "train"


def render_scene(scene: Scene, out: Path, cfg: DataConfig,
                 rng: np.random.Generator | None = None) -> tuple[Visibility, list[int]]:
    """Render and save every view; the best view of each object and the k most covering views."""
    k = default_intrinsics(cfg.width, cfg.height)
    boxes = render_boxes(scene)
    (out / "rgb").mkdir(parents=True, exist_ok=True)
    (out / "depth").mkdir(parents=True, exist_ok=True)
    memory = SceneMemory(MemoryConfig(key_view_translation_m=0.05, key_view_rotation_deg=5.0, max_key_views=1024))
    best: dict[str, tuple[int, int, tuple[float, float, float, float]]] = {}
    views = []
    for i, (room, pose) in enumerate(room_view_poses(scene, cfg.views_per_room)):
        frame, inst = render_frame(scene, k, pose, float(i), boxes)
        if cfg.depth_noise > 0:
            noise_rng = rng if rng is not None else np.random.default_rng(cfg.seed)
            noisy = frame.depth * (1.0 + cfg.depth_noise * noise_rng.standard_normal(frame.depth.shape))
            frame = dataclasses.replace(frame, depth=np.where(frame.depth > 0, noisy, 0.0).astype(np.float32))
        memory.add_frame(frame)
        cv2.imwrite(str(out / "rgb" / f"{i:03d}.png"), cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(out / "depth" / f"{i:03d}.png"), np.round(frame.depth * 1000).astype(np.uint16))
        views.append({"view_id": i, "room": room, "pose": np.round(pose, 6).tolist(),
                      "rgb": f"rgb/{i:03d}.png", "depth": f"depth/{i:03d}.png"})
        for idx, obj in enumerate(scene.objects):
            b2 = visible_box_2d(inst, idx)
            pixels = int(np.count_nonzero(inst == idx))
            if b2 is not None and pixels > best.get(obj.object_id, (0, -1, b2))[0]:
                best[obj.object_id] = (pixels, i, b2)
    (out / "views.json").write_text(json.dumps({
        "intrinsics": {"width": k.width, "height": k.height, "fx": k.fx, "fy": k.fy, "cx": k.cx, "cy": k.cy},
        "depth_scale": 0.001, "frame": "odom", "views": views}, indent=1))
    (out / "scene.json").write_text(scene.to_json())
    selection = select_views(memory.points(), memory.key_views(), cfg.views_per_row)
    return {oid: (v, b2) for oid, (_, v, b2) in best.items()}, list(selection.view_ids)


def _write_scenes(out: Path, cfg: DataConfig, bar: Any) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[str]]]:
    """Render every scene into ``out/scenes`` and build its rows; (rows by split, scene names by split)."""
    rng = np.random.default_rng(cfg.seed)
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "val": [], "test": []}
    scene_splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for i in range(cfg.scenes):
        n_rooms = int(rng.integers(cfg.min_rooms, cfg.max_rooms + 1))
        scene = generate_scene(cfg.seed + i, n_rooms)
        split = scene_split(i, cfg.scenes, cfg)
        scene_dir = out / "scenes" / scene.name
        visibility, scene_views = render_scene(scene, scene_dir, cfg, np.random.default_rng([cfg.seed, i]))
        rows = (qa_rows(scene, rng) + object_rows(scene, visibility, rng) + dense_rows(scene, visibility)
                + dialogue_rows(scene, rng) + plan_rows(scene, rng))
        for j, row in enumerate(rows):
            views = list(scene_views)
            if "view" in row:  # the object's best view first, then the most covering others
                views = [row["view"], *[v for v in scene_views if v != row["view"]]][: cfg.views_per_row]
            row.update({"id": f"{scene.name}/{row['task']}/{j:04d}", "scene": scene.name, "split": split,
                        "views": views, "images": [f"scenes/{scene.name}/rgb/{v:03d}.png" for v in views]})
            splits[split].append(row)
        scene_splits[split].append(scene.name)
        bar.update(1)
    return splits, scene_splits


def write_dataset(out: Path, cfg: DataConfig | None = None, *, force: bool = False,
                  progress: bool = False) -> dict[str, Any]:
    """Generate scenes, views and rows into ``out``; returns the dataset card.

    The folder is written under a temporary name beside ``out`` and swapped in when complete
    (:func:`r1_core.paths.swap_in`), so an interrupted run never leaves a half-written dataset. A
    non-empty ``out`` is refused unless ``force``.
    """
    cfg = cfg or DataConfig()
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise ParamError(f"output folder '{out}' exists; choose another --out or pass --force")
    t0 = time.monotonic()
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    bar = tqdm(total=cfg.scenes, desc="nav-r1 scene-data", unit="scene", disable=not progress, file=sys.stderr)
    try:
        splits, scene_splits = _write_scenes(tmp, cfg, bar)
        for split, rows in splits.items():
            with (tmp / f"{split}.jsonl").open("w", encoding="utf-8") as f:
                for row in rows:
                    f.write(json.dumps(row) + "\n")
        card = {"schema": SCHEMA, "generator": "nav_r1.scene.data.write_dataset",
                "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
                "scenes": scene_splits,
                "counts": {s: dict(Counter(r["task"] for r in rows)) for s, rows in splits.items()},
                "seconds": round(time.monotonic() - t0, 2)}
        (tmp / "card.json").write_text(json.dumps(card, indent=1))
        (tmp / "README.md").write_text(_card_markdown(card), encoding="utf-8")
        out.parent.mkdir(parents=True, exist_ok=True)
        swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        bar.close()
    return card


def _card_markdown(card: dict[str, Any]) -> str:
    present = [s for s, counts in card["counts"].items() if counts]
    lines = [*hf_card_header(present), "", "# Scene understanding data (generated)", "",
             f"Schema `{card['schema']}`, written by `{card['generator']}` (`nav-r1 scene-data`). Rows, answers "
             "and reasoning are templated from the labels of procedural scenes (r1_sim.scene); views are "
             "ray-cast RGB-D renders of the same boxes. Splits are by scene.", "",
             "| split | scenes | " + " | ".join(TASKS) + " |", "|---|---|" + "---|" * len(TASKS)]
    for split, counts in card["counts"].items():
        lines.append(f"| {split} | {len(card['scenes'][split])} | "
                     + " | ".join(str(counts.get(t, 0)) for t in TASKS) + " |")
    lines += ["", "Settings: " + ", ".join(f"{k}={v}" for k, v in card["config"].items()), ""]
    return "\n".join(lines)


def read_rows(data: Path, split: str) -> list[dict[str, Any]]:
    """The rows of one split; ``ValueError`` names the file and line of a bad row."""
    path = data / f"{split}.jsonl"
    if not path.is_file():
        raise ValueError(f"no split '{split}' in {data} (expected {path.name})")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not JSON: {exc}") from exc
        if not isinstance(row, dict) or row.get("task") not in TASKS:
            raise ValueError(f"{path}:{n}: row needs a 'task' in {TASKS}")
        rows.append(row)
    return rows


__all__ = ["SCHEMA", "TASKS", "DataConfig", "read_rows", "write_dataset"]
