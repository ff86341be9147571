"""Scene-understanding costs on the robot: fusing a frame, picking views, lifting a box, one question.

Each figure is printed beside a baseline run in the same process on the same data, so the ratio
says what our code adds over the least any implementation must do:

1. ``SceneMemory.add_frame`` (Open3D back-projection into odom, voxel fusion, key-view bookkeeping)
   against a bare NumPy pinhole back-projection of the same depth image into odom.
2. ``select_views`` (k = 4 of 16 key views, greedy coverage with occlusion checks) against one
   ``visible_points`` pass over every view (the visibility the greedy pick needs at least once).
3. ``lift_box`` (surface segmentation, growth through the fused cloud, Open3D outlier removal) against
   the naive lift: the median depth inside the 2D box back-projected to its corners.
4. ``SceneService.ask`` for a grounding question answered by an instant scripted reasoner (view
   selection + parsing + lifting: the robot-side time a model's latency adds to) against calling
   that reasoner alone; the difference is printed, a ratio to a microsecond reply says nothing.

Scene: the procedural ``r1_sim`` scene ``seed`` (4 rooms), 4 views per room, ray-cast RGB-D at
160x120 and 640x480 (``nav_r1.scene.procedural``), exact depth.

Run: ``.venv/bin/python bench/bench_scene.py [--seed 0] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from nav_r1.scene.grounding import lift_box
from nav_r1.scene.memory import CameraIntrinsics, Frame, KeyView, SceneMemory
from nav_r1.scene.procedural import default_intrinsics, render_boxes, render_frame, room_view_poses, visible_box_2d
from nav_r1.scene.protocol import Question
from nav_r1.scene.reasoners import SceneQuery
from nav_r1.scene.service import SceneService
from nav_r1.scene.views import select_views, visible_points
from r1_sim.scene import generate_scene


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``fn`` over ``repeat`` calls (after one warm-up) [ms]."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def numpy_backproject(frame: Frame) -> NDArray[np.float64]:
    """Baseline 1: every valid depth pixel as a point in odom (pinhole model, no fusion)."""
    k = frame.intrinsics
    v, u = np.nonzero(np.isfinite(frame.depth) & (frame.depth > 0.1))
    z = frame.depth[v, u].astype(np.float64)
    cam = np.stack([(u - k.cx) * z / k.fx, (v - k.cy) * z / k.fy, z], axis=1)
    assert frame.pose is not None
    out: NDArray[np.float64] = cam @ frame.pose[:3, :3].T + frame.pose[:3, 3]
    return out


def naive_lift(view: KeyView, box: tuple[float, float, float, float]) -> NDArray[np.float64]:
    """Baseline 3: the box's corners back-projected at the median depth inside it."""
    x0, y0, x1, y1 = (int(c) for c in box)
    d = view.depth[y0:y1, x0:x1]
    z = float(np.median(d[d > 0]))
    k = view.intrinsics
    corners = np.array([[(x - k.cx) * z / k.fx, (y - k.cy) * z / k.fy, z] for x in (x0, x1) for y in (y0, y1)])
    out: NDArray[np.float64] = corners @ view.pose[:3, :3].T + view.pose[:3, 3]
    return out


class InstantReasoner:
    """Replies at once with a 2D box in the first view shown (the robot-side cost only)."""

    name = "instant"
    privileged = False

    def __init__(self, label: str, boxes: dict[int, tuple[float, float, float, float]]) -> None:
        self.label, self.boxes = label, boxes

    def reset(self) -> None:
        """Stateless."""

    def reply(self, query: SceneQuery) -> str:
        """A grounding reply for the first shown view that sees the object."""
        view = next((v for v in query.view_ids if v in self.boxes), query.view_ids[0])
        box = self.boxes.get(view, (0.0, 0.0, 8.0, 8.0))
        body = {"answer": self.label, "objects": [{"label": self.label, "view": view, "box_2d": list(box)}]}
        return f"<think>It is in view {view}.</think><answer>{json.dumps(body)}</answer>"


def run(size: tuple[int, int], seed: int, repeat: int) -> dict[str, float]:
    """Every row of the benchmark at one image size."""
    scene = generate_scene(seed)
    boxes = render_boxes(scene)
    k: CameraIntrinsics = default_intrinsics(*size)
    frames = [render_frame(scene, k, pose, float(i), boxes) for i, (_, pose) in enumerate(room_view_poses(scene))]
    memory = SceneMemory()
    for frame, _ in frames:
        memory.add_frame(frame)
    out: dict[str, float] = {"frames": len(frames), "points": float(len(memory.points()))}
    probe = frames[len(frames) // 2][0]
    out["add_frame_ms"] = median_ms(lambda: SceneMemory().add_frame(probe), repeat)
    out["add_frame_base_ms"] = median_ms(lambda: numpy_backproject(probe), repeat)
    points, views = memory.points(), memory.key_views()
    out["select_ms"] = median_ms(lambda: select_views(points, views, 4), repeat)
    out["select_base_ms"] = median_ms(lambda: [visible_points(points, v) for v in views], repeat)
    # The object seen best (most pixels) in any view: what a grounding question asks for.
    ids = sorted({b.instance for b in boxes if b.instance >= 0})
    best = max(((i, j, int((inst == j).sum())) for i, (_, inst) in enumerate(frames) for j in ids), key=lambda t: t[2])
    view_i, obj = best[0], best[1]
    box = visible_box_2d(frames[view_i][1], obj)
    assert box is not None
    view = next(v for v in views if v.view_id == view_i)
    out["lift_ms"] = median_ms(lambda: lift_box(view, box, points), repeat)
    out["lift_base_ms"] = median_ms(lambda: naive_lift(view, box), repeat)
    per_view = {i: b for i, (_, inst) in enumerate(frames) if (b := visible_box_2d(inst, obj)) is not None}
    reasoner = InstantReasoner("object", per_view)
    service = SceneService(reasoner, memory)
    query = SceneQuery("Find the object.", "live", (view_i,))
    out["ask_ms"] = median_ms(lambda: service.ask(Question("Find the object.", "bench")), repeat)
    out["ask_base_ms"] = median_ms(lambda: reasoner.reply(query), repeat)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--seed", type=int, default=0, help="procedural scene seed")
    ap.add_argument("--repeat", type=int, default=5, help="timed calls per figure (median reported)")
    args = ap.parse_args()
    print(f"scene seed {args.seed}, 4 rooms x 4 views; median of {args.repeat} calls; ratio = ours / baseline")
    print("| size | fused points | add_frame (baseline: NumPy back-projection) | select k=4 of 16 (baseline: "
          "visibility once) | lift_box (baseline: median-depth corners) | ask, instant reasoner (baseline: "
          "the reasoner alone) |")
    print("|---|---|---|---|---|---|")
    for size in ((160, 120), (640, 480)):
        r = run(size, args.seed, args.repeat)
        cells = [f"{r[a]:.1f} ms ({r[b]:.2f} ms, x{r[a] / max(r[b], 1e-9):.1f})" for a, b in
                 (("add_frame_ms", "add_frame_base_ms"), ("select_ms", "select_base_ms"),
                  ("lift_ms", "lift_base_ms"))]
        cells.append(f"{r['ask_ms']:.1f} ms ({r['ask_base_ms']:.3f} ms; robot side "
                     f"{r['ask_ms'] - r['ask_base_ms']:.1f} ms)")
        print(f"| {size[0]}x{size[1]} | {int(r['points'])} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
