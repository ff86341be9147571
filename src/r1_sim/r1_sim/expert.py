"""A privileged expert behind the :class:`r1_core.Reasoner` protocol, replying in Nav-R1's format.

It plans on the scene's navigation map from ``observation.pose`` (the robot's odometry pose; in
the simulator the odom frame is the world frame, so it compares directly with the episode goal)
and answers ``<think>short grounded reasoning</think><action>a1, a2, a3</action>`` using exactly
Nav-R1's action vocabulary (plus ``ascend 25cm``/``descend 25cm`` for the UAV), or
``<action>stop</action>`` once within ``stop_radius`` of the goal.  With ``record=True`` it keeps
every observation and reply so :meth:`ExpertReasoner.export_navcot` can write Nav-CoT-style data.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from r1_core.geometry import wrap_angle
from r1_core.nav.actions import NAV_R1_ACTION_SPACE, UAV_ACTION_SPACE, Action
from r1_core.reasoner import Observation, Pose2D, Response
from r1_sim.episodes import Episode
from r1_sim.navmap import NavMap
from r1_sim.robots import robot_profile
from r1_sim.scene import Scene

STEP_M = 0.25
TURN_DEG = 30.0
VERTICAL_TOLERANCE_M = 0.15



def _side(yaw: float, dx: float, dy: float) -> str:
    rel = math.degrees(wrap_angle(math.atan2(dy, dx) - yaw))
    if abs(rel) <= 30:
        return "ahead of me"
    if abs(rel) >= 150:
        return "behind me"
    return "to my left" if rel > 0 else "to my right"


@dataclass
class _Record:
    observation: Observation
    text: str


class ExpertReasoner:
    """Shortest-path expert for one episode; ``infer`` never raises (a missing pose is a failed reply)."""

    def __init__(
        self,
        scene: Scene,
        navmap: NavMap,
        episode: Episode,
        *,
        actions_per_reply: int = 3,
        stop_radius: float | None = None,
        turn_threshold_deg: float = 16.0,
        plan_margin: float = 0.0,
        record: bool = False,
    ) -> None:
        if not 1 <= actions_per_reply <= 8:
            raise ValueError(f"actions_per_reply must be 1-8, got {actions_per_reply}")
        self.scene = scene
        self.navmap = navmap
        # Optionally plan farther from obstacles than the map's radius (where a passage closes
        # under the margin, the plain map is used).
        self.plan_map = NavMap(scene, navmap.robot_radius + plan_margin, navmap.resolution) if plan_margin > 0 \
            else navmap
        self.episode = episode
        self.flies = robot_profile(episode.robot).flies
        self.actions_per_reply = actions_per_reply
        # Stop well inside the success radius: the controller lands within a few cm of its targets.
        self.stop_radius = stop_radius if stop_radius is not None else min(0.45, 0.5 * episode.success_radius)
        self.turn_threshold = math.radians(turn_threshold_deg)
        self.record = record
        self.records: list[_Record] = []
        self._goal = np.array(episode.goal_xy, dtype=np.float64)
        obj = next((o for o in scene.objects if o.object_id == episode.goal_object), None)
        self._goal_phrase = f"the {obj.label} in the {obj.room}" if obj else "the goal"

    @property
    def name(self) -> str:
        """Identifies the policy in status messages."""
        return "sim-expert"

    @property
    def action_space(self) -> tuple[str, ...]:
        """The action options this expert (and the model it teaches) chooses from."""
        return UAV_ACTION_SPACE if self.flies else NAV_R1_ACTION_SPACE

    def reset(self) -> None:
        """Forget recorded steps of the previous episode."""
        self.records.clear()

    def infer(self, observation: Observation) -> Response:
        """Plan from ``observation.pose`` and reply in Nav-R1's format."""
        t0 = time.perf_counter()
        if observation.pose is None:
            return Response.failure(self.name, "the sim expert needs observation.pose (odometry)")
        try:
            think, actions = self._decide(observation.pose)
        except ValueError as exc:  # no free path: report, do not crash the node
            return Response.failure(self.name, f"expert planning failed: {exc}")
        text = f"<think>{think}</think><action>{', '.join(a.to_text() for a in actions)}</action>"
        if self.record:
            self.records.append(_Record(observation, text))
        return Response(text=text, model=self.name, timings={"total": time.perf_counter() - t0})

    # -- planning --------------------------------------------------------------------------------
    def _distance(self, xy: np.ndarray) -> float:
        return float(np.linalg.norm(self._goal - xy))

    def _decide(self, pose: Pose2D) -> tuple[str, list[Action]]:
        xy = np.array([pose.x, pose.y])
        yaw, z = pose.yaw, pose.z
        goal_z = self.episode.goal_z
        facts = self._grounding(pose)
        dz = (goal_z - z) if (self.flies and goal_z is not None) else 0.0
        if self._distance(xy) <= self.stop_radius and abs(dz) <= VERTICAL_TOLERANCE_M:
            return (f"{facts} I am {self._distance(xy):.2f} m from {self._goal_phrase}, within the stopping "
                    "distance, so I stop here."), [Action("stop")]
        actions: list[Action] = []
        reasons: list[str] = []
        for _ in range(self.actions_per_reply):
            if self.flies and abs(dz) > VERTICAL_TOLERANCE_M:
                up = dz > 0
                actions.append(Action("up" if up else "down", STEP_M))
                dz -= STEP_M if up else -STEP_M
                if not reasons:
                    reasons.append(f"I am at {z:.2f} m but should hover at {goal_z:.2f} m, so I "
                                   f"{'climb' if up else 'descend'} first.")
                continue
            if self._distance(xy) <= self.stop_radius:
                break  # the next reply, from a fresh pose, confirms the stop
            path = self._plan(xy)
            target = next((p for p in path[1:] if np.linalg.norm(p - xy) > 0.05), path[-1])
            err = wrap_angle(math.atan2(target[1] - xy[1], target[0] - xy[0]) - yaw)
            if abs(err) > self.turn_threshold:
                left = err > 0
                actions.append(Action("turn_left" if left else "turn_right", TURN_DEG))
                yaw = wrap_angle(yaw + math.radians(TURN_DEG if left else -TURN_DEG))
                if not reasons:
                    reasons.append(f"The way to {self._goal_phrase} is {abs(math.degrees(err)):.0f}° to my "
                                   f"{'left' if left else 'right'}, so I turn {'left' if left else 'right'}.")
            else:
                actions.append(Action("forward", STEP_M))
                xy = xy + STEP_M * np.array([math.cos(yaw), math.sin(yaw)])
                if not reasons:
                    reasons.append("The way ahead is free, so I move forward.")
        if not actions:
            actions.append(Action("stop"))
        return f"{facts} {' '.join(reasons)}".strip(), actions

    def _plan(self, xy: np.ndarray) -> np.ndarray:
        """Path on the margin map; where the margin closes a passage, on the plain map."""
        try:
            return self.plan_map.shortest_path(xy, self._goal)
        except ValueError:
            return self.navmap.shortest_path(xy, self._goal)

    def _grounding(self, pose: Pose2D) -> str:
        """One or two sentences naming where the robot is, the goal and a nearby landmark."""
        xy = (pose.x, pose.y)
        here = self.scene.room_at(xy)
        parts = [f"I am in the {here.name}." if here else "I am near a doorway."]
        try:
            path = self.navmap.shortest_path(xy, self._goal)
            dist = float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum())
        except ValueError:
            path, dist = np.array([xy]), self._distance(np.array(xy))
        goal_room = self.scene.room_at(self._goal)
        if goal_room is not None and here is not None and goal_room.name != here.name:
            rooms = []
            for a, b in itertools.pairwise(path):
                for t in np.linspace(0, 1, 8):
                    r = self.scene.room_at(a + t * (b - a))
                    if r is not None and r.name != here.name and r.name not in rooms:
                        rooms.append(r.name)
            via = f" through the {rooms[0]}" if rooms and rooms[0] != goal_room.name else ""
            parts.append(f"{self._goal_phrase.capitalize()} is {dist:.1f} m away{via}, via the door to the "
                         f"{rooms[0] if rooms else goal_room.name}.")
        else:
            parts.append(f"{self._goal_phrase.capitalize()} is in this room, {dist:.1f} m away.")
        near = min(
            (o for o in self.scene.objects if o.object_id != self.episode.goal_object),
            key=lambda o: o.box.distance_xy(xy), default=None,
        )
        if near is not None and near.box.distance_xy(xy) < 2.0:
            c = near.box.center
            parts.append(f"The {near.label} is {_side(pose.yaw, c[0] - xy[0], c[1] - xy[1])}.")
        return " ".join(parts)

    # -- data engine ---------------------------------------------------------------------------
    def export_navcot(self, path: str | Path, image_dir: str | Path | None = None, history: int = 5) -> int:
        """Append recorded steps to a Nav-CoT-style jsonl; images go to ``image_dir`` as PNG.

        Each row: ``instruction``, ``history_images`` (up to ``history`` past views then the current
        view, oldest first, paths relative to the jsonl's folder), ``action_space`` and ``target``
        (the expert's full ``<think>…</think><action>…</action>`` reply).  Returns rows written.
        """
        import cv2

        out = Path(path)
        images = Path(image_dir) if image_dir is not None else out.parent / "images"
        images.mkdir(parents=True, exist_ok=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        rows = 0
        written: dict[int, str] = {}  # the same Frame recurs in later histories: write it once
        with out.open("a", encoding="utf-8") as f:
            for _k, rec in enumerate(self.records):
                frames = [*rec.observation.history[-history:], rec.observation.frame]
                names = []
                for frame in frames:
                    if id(frame) not in written:
                        name = images / f"{self.episode.episode_id}_{len(written):05d}.png"
                        if not cv2.imwrite(str(name), frame.rgb[:, :, ::-1]):
                            raise OSError(f"could not write image {name}")
                        written[id(frame)] = (str(name.relative_to(out.parent))
                                              if name.is_relative_to(out.parent) else str(name))
                    names.append(written[id(frame)])
                f.write(json.dumps({
                    "instruction": rec.observation.instruction,
                    "history_images": names,
                    "action_space": list(self.action_space),
                    "target": rec.text,
                    "episode_id": self.episode.episode_id,
                }, ensure_ascii=False) + "\n")
                rows += 1
        return rows


def expert_for_episode(episode: Episode, **kwargs: Any) -> ExpertReasoner:
    """An expert for ``episode``, loading its scene and building the robot's navigation map."""
    from r1_sim.episodes import resolve_scene

    scene = resolve_scene(episode.scene)
    return ExpertReasoner(scene, NavMap(scene, robot_profile(episode.robot).radius), episode, **kwargs)
