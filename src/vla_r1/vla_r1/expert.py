"""A scripted expert that answers in VLA-R1's format from the simulator's ground truth.

It implements :class:`r1_core.Reasoner`, so the node and the episode runner cannot tell it from a
model: affordance answers the named object's image box; trajectory answers image waypoints from
the point under the gripper to the named target.  Waypoints mark the surface the gripper should
hover over, the convention :mod:`vla_r1.planner` lifts them with.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from r1_core.reasoner import Observation, Response
from vla_r1.geometry import Intrinsics, pixel_to_normalised, project, transform_points


class TabletopExpert:
    """Answers from ground truth supplied by callables (the simulator's state)."""

    def __init__(
        self,
        labels: Callable[[], list[str]],
        corners: Callable[[str], NDArray[np.float64]],
        top: Callable[[str], NDArray[np.float64]],
        tcp: Callable[[], NDArray[np.float64]],
        intrinsics: Intrinsics,
        base_from_camera: NDArray[np.float64],
        *,
        n_waypoints: int = 6,
    ) -> None:
        self._labels, self._corners, self._top, self._tcp = labels, corners, top, tcp
        self._k = intrinsics
        self._cam_from_base = np.asarray(np.linalg.inv(base_from_camera), dtype=np.float64)
        self._n = n_waypoints

    @property
    def name(self) -> str:
        """Identifies the expert in status messages."""
        return "tabletop-expert"

    def reset(self) -> None:
        """The expert keeps no episode state."""

    def _normalised(self, points_base: NDArray[np.float64]) -> NDArray[np.float64]:
        cam = transform_points(self._cam_from_base, np.asarray(points_base, dtype=np.float64).reshape(-1, 3))
        out = []
        for p in cam:
            u, v = project(p, self._k)
            out.append(pixel_to_normalised(float(u), float(v), self._k))
        return np.array(out)

    def _target(self, instruction: str) -> str | None:
        text = instruction.lower()
        found = [label for label in self._labels() if label in text]
        return max(found, key=len) if found else None

    def infer(self, observation: Observation) -> Response:
        """Reply ``<think>…</think><output>…</output>`` for the observation's task."""
        t0 = time.perf_counter()
        task = observation.extra.get("task", "affordance")
        label = self._target(observation.instruction)
        if label is None:
            return Response.failure(self.name, f"no known object named in '{observation.instruction}'")
        if task == "affordance":
            uv = self._normalised(self._corners(label))
            lo, hi = uv.min(axis=0), uv.max(axis=0)
            box = {
                "x": round(float((lo[0] + hi[0]) / 2), 4),
                "y": round(float((lo[1] + hi[1]) / 2), 4),
                "width": round(float(hi[0] - lo[0]), 4),
                "height": round(float(hi[1] - lo[1]), 4),
            }
            think = f"The {label} is at image ({box['x']:.2f}, {box['y']:.2f}); grasp it from above."
            answer = json.dumps(box)
        elif task == "trajectory":
            start = self._tcp().copy()
            start[2] = 0.0  # the table under the gripper
            end = self._top(label)
            path = np.linspace(start, end, self._n)
            path[:-1, 2] = np.minimum(path[:-1, 2], end[2])
            pts = self._normalised(path)
            think = f"Move the gripper from its current place to above the {label} in a straight line."
            answer = json.dumps([[round(float(x), 4), round(float(y), 4)] for x, y in pts])
        else:
            return Response.failure(self.name, f"unknown task '{task}'")
        text = f"<think>{think}</think><output>{answer}</output>"
        return Response(text=text, model=self.name, timings={"total": time.perf_counter() - t0})
