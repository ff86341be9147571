"""``nav-r1 scene-eval``: run a scene reasoner over a dataset split and write report.json/report.md.

Grounded 2D boxes go through exactly what the robot runs: the split's saved RGB-D views are fed to a
:class:`SceneMemory` frame by frame, and a reply's 2D box is lifted with :func:`lift_box` against
that memory's key view and fused cloud. The reasoner sees the views the dataset chose for the row,
or, with a :class:`ViewScorer`, the views the robot's :func:`select_views` picks for each question
(coverage mixed with the scorer's relevance) from every view of the scene.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from nav_r1.scene.boxes import Box3D, BoxError, iou_3d
from nav_r1.scene.data import TASKS, read_rows
from nav_r1.scene.grounding import lift_box
from nav_r1.scene.memory import CameraIntrinsics, Frame, KeyView, MemoryConfig, SceneMemory
from nav_r1.scene.metrics import (
    caption_scores,
    exact_match,
    grounding_accuracy,
    match_boxes,
    step_accuracy,
)
from nav_r1.scene.protocol import ParsedReply, Turn, parse_scene_reply
from nav_r1.scene.reasoners import SceneQuery, SceneReasoner
from nav_r1.scene.service import ServiceConfig
from nav_r1.scene.views import ViewScorer, select_views
from r1_sim.scene import Scene

SCHEMA = "nav_r1.scene_eval/1"
# 12 edges of a box as pairs of corner indices (corners ordered x-major, then y, then z).
_EDGES = [(0, 1), (2, 3), (4, 5), (6, 7), (0, 2), (1, 3), (4, 6), (5, 7), (0, 4), (1, 5), (2, 6), (3, 7)]


class SceneStore:
    """Scenes and their views from a dataset directory, with a scene memory built from the saved frames."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self._scenes: dict[str, Scene] = {}
        self._memories: dict[str, tuple[SceneMemory, dict[int, int]]] = {}
        self._rgb: dict[tuple[str, int], NDArray[np.uint8]] = {}
        self._sizes: dict[str, tuple[int, int]] = {}

    def _dir(self, name: str) -> Path:
        path = self.data / "scenes" / name
        if not path.is_dir():
            raise ValueError(f"dataset {self.data} has no scene '{name}'")
        return path

    def scene(self, name: str) -> Scene:
        """The labelled scene (privileged: only the expert reads it)."""
        if name not in self._scenes:
            self._scenes[name] = Scene.from_json((self._dir(name) / "scene.json").read_text())
        return self._scenes[name]

    def rgb(self, name: str, view: int) -> NDArray[np.uint8]:
        """A saved view's colour image (H, W, 3) RGB (cached)."""
        if (name, view) in self._rgb:
            return self._rgb[(name, view)]
        bgr = cv2.imread(str(self._dir(name) / "rgb" / f"{view:03d}.png"), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"scene '{name}' has no view {view}")
        self._rgb[(name, view)] = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
        return self._rgb[(name, view)]

    def image_size(self, name: str) -> tuple[int, int]:
        """(width, height) of the scene's views."""
        if name not in self._sizes:
            k = json.loads((self._dir(name) / "views.json").read_text())["intrinsics"]
            self._sizes[name] = (int(k["width"]), int(k["height"]))
        return self._sizes[name]

    def memory(self, name: str) -> tuple[SceneMemory, dict[int, int]]:
        """A scene memory fed with every saved frame, and saved view index -> key view id."""
        if name not in self._memories:
            meta = json.loads((self._dir(name) / "views.json").read_text())
            k = CameraIntrinsics(**meta["intrinsics"])
            # Every saved view must stay a key view here: evaluation is not bounded like the robot.
            memory = SceneMemory(MemoryConfig(max_key_views=1024, max_points=20_000_000))
            mapping: dict[int, int] = {}
            for v in meta["views"]:
                depth = cv2.imread(str(self._dir(name) / v["depth"]), cv2.IMREAD_UNCHANGED)
                if depth is None:
                    raise ValueError(f"scene '{name}': cannot read {v['depth']}")
                frame = Frame(self.rgb(name, int(v["view_id"])), depth.astype(np.float32) * float(meta["depth_scale"]),
                              k, np.asarray(v["pose"], dtype=float), float(v["view_id"]))
                result = memory.add_frame(frame)
                if result.view_id is not None:
                    mapping[int(v["view_id"])] = result.view_id
            self._memories[name] = (memory, mapping)
        return self._memories[name]

    def question_views(self, name: str, question: str, k: int, scorer: ViewScorer,
                       relevance_weight: float) -> tuple[tuple[int, ...], str]:
        """The saved views :func:`select_views` picks for ``question`` among all of the scene's, and its note."""
        memory, mapping = self.memory(name)
        saved: dict[int, int] = {}
        for view, key in mapping.items():  # a key view's image is that of the saved view that started it
            saved.setdefault(key, view)
        selection = select_views(memory.points(), memory.key_views(), k, question, scorer, relevance_weight)
        return tuple(saved[v] for v in selection.view_ids), selection.note

    def key_view(self, name: str, view: int) -> KeyView | None:
        """The key view a saved view became (None when unknown)."""
        memory, mapping = self.memory(name)
        return memory.key_view(mapping[view]) if view in mapping else None


def _failure_code(reason: str | None) -> str:
    return (reason or "unknown").split(":", 1)[0]


class _Tally:
    """Per-task accumulators."""

    def __init__(self) -> None:
        self.values: dict[str, list[Any]] = defaultdict(list)
        self.failures: dict[str, Counter[str]] = defaultdict(Counter)
        self.reply_s: list[float] = []


def _query(row: Mapping[str, Any], reasoner: SceneReasoner, question: str, history: tuple[Turn, ...],
           privileged: Mapping[str, Any], store: SceneStore, views: tuple[int, ...] | None = None) -> SceneQuery:
    """The reasoner's query: the row's own views, or ``views`` (saved view indices) chosen for the question."""
    info = privileged if getattr(reasoner, "privileged", False) else {
        "task": privileged.get("task"), "qtype": privileged.get("qtype")}
    scene = str(row["scene"])
    if views is None:
        views, images = tuple(int(v) for v in row.get("views", ())), tuple(row.get("images", ()))
    else:
        images = tuple(f"scenes/{scene}/rgb/{v:03d}.png" for v in views)
    return SceneQuery(question, scene, views, images, history, info, tuple(store.rgb(scene, v) for v in views))


def _ask(reasoner: SceneReasoner, query: SceneQuery, tally: _Tally, image_size: tuple[int, int]) -> ParsedReply:
    t0 = time.perf_counter()
    try:
        text = reasoner.reply(query)
    except Exception as exc:  # a reasoner's bug is one failed sample, reported, not a crashed evaluation
        text = None
        reply = ParsedReply(False, failure=f"reasoner_error: {type(exc).__name__}: {exc}")
    tally.reply_s.append(time.perf_counter() - t0)
    return parse_scene_reply(text, image_size) if text is not None else reply


def _grounded_box(parsed: ParsedReply, store: SceneStore, scene: str) -> tuple[Box3D | None, str | None, int | None]:
    if not parsed.ok:
        return None, parsed.failure, None
    if not parsed.objects:
        return None, "no_box: the reply grounds no object", None
    obj = parsed.objects[0]
    if obj.box_3d is not None:
        return obj.box_3d, None, None
    view = store.key_view(scene, int(obj.view_id)) if obj.view_id is not None else None
    if view is None:
        return None, f"unknown_view: view {obj.view_id} is not a kept view", None
    memory, _ = store.memory(scene)
    lifted = lift_box(view, obj.box_2d, memory.points())
    return lifted.box, lifted.error, obj.view_id


def _draw(store: SceneStore, row: Mapping[str, Any], truth: Box3D, pred: Box3D | None, out: Path) -> str | None:
    view = store.key_view(str(row["scene"]), int(row["view"]))
    if view is None:
        return None
    scale = 3
    img = cv2.resize(cv2.cvtColor(view.rgb, cv2.COLOR_RGB2BGR), None, fx=scale, fy=scale,
                     interpolation=cv2.INTER_NEAREST)
    k = view.intrinsics
    for box, colour in ((truth, (0, 200, 0)), (pred, (0, 0, 230))):
        if box is None:
            continue
        cam = (box.corners() - view.pose[:3, 3]) @ view.pose[:3, :3]
        for a, b in _EDGES:
            if cam[a, 2] <= 0.05 or cam[b, 2] <= 0.05:
                continue
            pa, pb = ((int(scale * (k.fx * cam[i, 0] / cam[i, 2] + k.cx)),
                       int(scale * (k.fy * cam[i, 1] / cam[i, 2] + k.cy))) for i in (a, b))
            cv2.line(img, pa, pb, colour, 2, cv2.LINE_AA)
    cv2.putText(img, str(row["question"])[:60], (5, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (20, 20, 20), 1, cv2.LINE_AA)
    name = str(row["id"]).replace("/", "_") + ".png"
    out.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out / name), img)
    return f"pictures/{name}"


@dataclass
class _Run:
    """What one evaluation accumulates while it asks the reasoner row by row."""

    reasoner: SceneReasoner
    store: SceneStore
    out: Path
    pictures: int
    # With a scorer, each question's views are re-selected as the robot does (else the row's own).
    scorer: ViewScorer | None = None
    relevance_weight: float = ServiceConfig.relevance_weight
    selection_notes: Counter[str] = field(default_factory=Counter)
    tallies: dict[str, _Tally] = field(default_factory=lambda: {t: _Tally() for t in TASKS})
    picture_paths: list[str] = field(default_factory=list)
    caption_pairs: tuple[list[str], list[list[str]]] = field(default_factory=lambda: ([], []))
    dense: tuple[list[str], list[list[str]], list[bool]] = field(default_factory=lambda: ([], [], []))

    def query(self, row: Mapping[str, Any], question: str, history: tuple[Turn, ...],
              privileged: Mapping[str, Any]) -> SceneQuery:
        """The query for one question, its views re-selected when the run has a view scorer."""
        views = None
        if self.scorer is not None:
            k = max(1, len(row.get("views", ())))
            views, note = self.store.question_views(str(row["scene"]), question, k, self.scorer,
                                                    self.relevance_weight)
            self.selection_notes[note] += 1
        return _query(row, self.reasoner, question, history, privileged, self.store, views)

    def row(self, row: Mapping[str, Any]) -> None:
        """Ask the reasoner about one row and score the reply."""
        task = str(row["task"])
        if task == "dialogue":
            self._dialogue(row)
            return
        tally = self.tallies[task]
        size = self.store.image_size(str(row["scene"]))
        parsed = _ask(self.reasoner, self.query(row, str(row["question"]), (), row), tally, size)
        if not parsed.ok:
            tally.failures["replies"][_failure_code(parsed.failure)] += 1
        if task == "qa":
            ok = parsed.ok and exact_match(parsed.answer, str(row["answer"]))
            tally.values["em"].append(ok)
            tally.values[f"em/{row.get('qtype')}"].append(ok)
        elif task == "plan":
            tally.values["em"].append(parsed.ok and exact_match(parsed.answer, str(row["answer"])))
            tally.values["steps"].append(step_accuracy(parsed.answer, str(row["answer"])) if parsed.ok else 0.0)
        elif task == "grounding":
            self._grounding(row, parsed, tally)
        elif task == "object_caption":
            self.caption_pairs[0].append(parsed.answer if parsed.ok else "")
            self.caption_pairs[1].append([str(r) for r in row.get("references", [row["answer"]])])
        elif task == "dense_caption":
            self._dense(row, parsed)

    def _dialogue(self, row: Mapping[str, Any]) -> None:
        tally = self.tallies["dialogue"]
        size = self.store.image_size(str(row["scene"]))
        history: list[Turn] = []
        correct = []
        for turn in row.get("turns", []):
            q = self.query(row, str(turn["question"]), tuple(history), {**turn, "task": "dialogue"})
            parsed = _ask(self.reasoner, q, tally, size)
            if not parsed.ok:
                tally.failures["turns"][_failure_code(parsed.failure)] += 1
            ok = parsed.ok and exact_match(parsed.answer, str(turn["answer"]))
            correct.append(ok)
            history.append(Turn(str(turn["question"]), parsed.answer if parsed.ok else ""))
        tally.values["turn"] += correct
        tally.values["dialogue"].append(all(correct))

    def _grounding(self, row: Mapping[str, Any], parsed: ParsedReply, tally: _Tally) -> None:
        truth = Box3D.from_dict(row["box"])
        box, error, _ = _grounded_box(parsed, self.store, str(row["scene"]))
        if error is not None and parsed.ok:
            tally.failures["grounding"][_failure_code(error)] += 1
        tally.values["iou"].append(iou_3d(box, truth) if box is not None else 0.0)
        if len(self.picture_paths) < self.pictures:
            pic = _draw(self.store, row, truth, box, self.out / "pictures")
            if pic is not None:
                self.picture_paths.append(pic)

    def _dense(self, row: Mapping[str, Any], parsed: ParsedReply) -> None:
        preds = [(o.box_3d, o.caption) for o in (parsed.objects if parsed.ok else ()) if o.box_3d is not None]
        truths = row.get("objects", [])
        try:
            gt_boxes = [Box3D.from_dict(t["box"]) for t in truths]
        except BoxError as exc:
            raise ValueError(f"row {row['id']}: bad ground-truth box: {exc}") from exc
        matches = match_boxes([p[0] for p in preds], gt_boxes, 0.5)
        for t, m in zip(truths, matches, strict=True):
            self.dense[0].append(preds[m][1] if m is not None else "")
            self.dense[1].append([str(r) for r in t.get("references", [])])
            self.dense[2].append(m is not None)

    def task_metrics(self) -> dict[str, Any]:
        """The per-task figures of everything asked so far."""
        def mean(v: list[Any]) -> float:
            return float(np.mean(v)) if v else 0.0

        tasks: dict[str, Any] = {}
        g = self.tallies["grounding"].values["iou"]
        tasks["grounding"] = {"n": len(g), "acc@0.25": grounding_accuracy(g, 0.25),
                              "acc@0.5": grounding_accuracy(g, 0.5), "mean_iou": mean(g)}
        qa = self.tallies["qa"].values
        tasks["qa"] = {"n": len(qa["em"]), "em": mean(qa["em"]),
                       "em_by_type": {k.split("/", 1)[1]: mean(v) for k, v in sorted(qa.items())
                                      if k.startswith("em/")}}
        cap = caption_scores(*self.caption_pairs)
        tasks["object_caption"] = {"n": len(self.caption_pairs[0]), "bleu4": cap["bleu4"], "cider": cap["cider"]}
        cider_at = 0.0
        if self.dense[0]:
            per = caption_scores(self.dense[0], self.dense[1])["cider_per_sample"]
            assert isinstance(per, list)
            cider_at = mean([c if hit else 0.0 for c, hit in zip(per, self.dense[2], strict=True)])
        tasks["dense_caption"] = {"n_objects": len(self.dense[0]), "cider@0.5iou": cider_at,
                                  "recall@0.5iou": mean(self.dense[2])}
        d = self.tallies["dialogue"].values
        tasks["dialogue"] = {"n_dialogues": len(d["dialogue"]), "n_turns": len(d["turn"]),
                             "turn_accuracy": mean(d["turn"]), "dialogue_accuracy": mean(d["dialogue"])}
        p = self.tallies["plan"].values
        tasks["plan"] = {"n": len(p["em"]), "em": mean(p["em"]), "step_accuracy": mean(p["steps"])}
        for t in TASKS:
            tasks[t]["failures"] = {k: dict(v) for k, v in self.tallies[t].failures.items()}
            times = self.tallies[t].reply_s
            tasks[t]["reply_ms_p50"] = round(1000 * float(np.median(times)), 3) if times else 0.0
        return tasks


def evaluate(data: Path, split: str, reasoner: SceneReasoner, out: Path, pictures: int = 8,
             limit: int | None = None, scorer: ViewScorer | None = None,
             relevance_weight: float = ServiceConfig.relevance_weight) -> dict[str, Any]:
    """Run ``reasoner`` over ``split`` of the dataset at ``data``; writes and returns the report.

    With ``scorer``, every question gets the views :func:`select_views` picks (as many as the row
    has) with that scorer and ``relevance_weight``, instead of the row's own.
    """
    if not 0.0 <= relevance_weight <= 1.0:
        raise ValueError(f"relevance_weight must be in [0, 1], got {relevance_weight}")
    rows = read_rows(data, split)[:limit]
    run = _Run(reasoner, SceneStore(data), out, pictures, scorer, relevance_weight)
    t_start = time.monotonic()
    for row in rows:
        run.row(row)
    views: dict[str, Any] = {"selection": "dataset (the row's views)"}
    if scorer is not None:
        views = {"selection": f"select_views per question with {getattr(scorer, 'name', type(scorer).__name__)}",
                 "relevance_weight": relevance_weight, "notes": dict(run.selection_notes)}
    report: dict[str, Any] = {"schema": SCHEMA, "reasoner": reasoner.name, "split": split, "data": str(data),
                              "rows": len(rows), "views": views, "tasks": run.task_metrics(),
                              "pictures": run.picture_paths, "seconds": round(time.monotonic() - t_start, 2)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    (out / "report.md").write_text(report_markdown(report))
    return report


def report_markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown: one table per task, then the pictures."""
    lines = [f"# Scene evaluation: `{report['reasoner']}` on `{report['split']}`", "",
             f"{report['rows']} rows from `{report['data']}`, {report['seconds']} s.", ""]
    views = report.get("views", {})
    if views.get("notes"):
        lines += [f"Views: {views['selection']}, relevance weight {views['relevance_weight']}; "
                  + ", ".join(f"{n}: {c} questions" for n, c in views["notes"].items()) + ".", ""]
    for task, metrics in report["tasks"].items():
        lines += [f"## {task}", "", "| metric | value |", "|---|---|"]
        for k, v in metrics.items():
            if isinstance(v, dict):
                v = ", ".join(f"{a}: {b}" for a, b in v.items()) or "none"
            elif isinstance(v, float):
                v = f"{v:.3f}"
            lines.append(f"| {k} | {v} |")
        lines.append("")
    if report["pictures"]:
        lines += ["## Grounded boxes (green: ground truth, red: reply)", ""]
        lines += [f"![{p}]({p})" for p in report["pictures"]]
    return "\n".join(lines) + "\n"


__all__ = ["SCHEMA", "SceneStore", "evaluate", "report_markdown"]
