"""The reasoning node's question interface: ``nav_r1/question`` -> ``nav_r1/answer`` (+ grounding markers).

:class:`SceneInterface` is the thin rclpy layer that the reasoning node attaches when
``scene.enabled`` is true. It feeds a :class:`~nav_r1.scene.memory.SceneMemory` from the RGB-D
stream (each depth frame paired with the colour frame at its stamp and the odometry sample
nearest it, at most once per ``frame_period_s``), answers questions with a
:class:`~nav_r1.scene.service.SceneService` and carries out what the
:class:`~nav_r1.scene.director.SceneDirector` says: answers and progress on ``nav_r1/answer``,
boxes as a ``visualization_msgs/MarkerArray`` on ``nav_r1/grounding`` (odom frame), goals through
the node's own plan (``direct``: the reasoning core drops its instruction, so one node publishes
one ``nav_r1/plan``), and arm steps on ``vla_r1/instruction`` (their outcome read back from
``vla_r1/status``).

Colour, depth and odometry come from the owning node's own subscriptions (:meth:`SceneInterface.on_color`,
:meth:`~SceneInterface.on_depth`, :meth:`~SceneInterface.on_odom`), so each colour frame is converted
once per process; camera_info, questions and ``vla_r1/status`` are subscribed here.

Threads: the sensor, question, arm-status and tick callbacks run on the node's executor; every
model call (a question, a plan step's grounding) runs as a job on the node's one worker thread,
queued behind any navigation inference (one model call at a time). ``_memory_lock`` guards the
memory: a frame arriving while a question holds it is dropped (counted), never queued behind the
model. ``_lock`` guards the director (short calls only); effects are carried out after releasing
it. Stale input: a depth frame with no odometry within ``odom_timeout_s`` of its stamp has no pose
and is refused; odometry older than ``pose_timeout_s`` gives no robot pose (no goal; no arrival).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from nav_msgs.msg import Odometry
from numpy.typing import NDArray
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from visualization_msgs.msg import Marker, MarkerArray

from nav_r1.control.depth import base_T_optical
from nav_r1.scene.clip_scorer import make_view_scorer
from nav_r1.scene.director import PROGRESS_MODEL, ArmRequest, DirectorEffect, Drive, GroundRequest, SceneDirector
from nav_r1.scene.drive import DriveConfig
from nav_r1.scene.execute import ExecuteConfig
from nav_r1.scene.grounding import LiftConfig
from nav_r1.scene.memory import CameraIntrinsics, Frame, MemoryConfig, SceneMemory
from nav_r1.scene.protocol import MAX_QUESTION_CHARS, Answer, ProtocolError, Question
from nav_r1.scene.reasoners import VLMSceneReasoner
from nav_r1.scene.service import SceneService, ServiceConfig
from r1_core import topics
from r1_core.backends import make_backend
from r1_core.jsonsafe import loads_bounded
from r1_core.params import ParamError, nested, param, validate_params
from r1_core.reasoner import Pose2D, VLMBackend
from r1_core.ros.convert import (
    ConversionError,
    camera_info_to_matrix,
    depth_image_to_metres,
    stamp_to_sec,
)
from r1_core.ros.qos import RELIABLE_QOS, SENSOR_QOS


@dataclass(frozen=True)
class SceneConfig:
    """The reasoning node's question interface (``scene.*``)."""

    enabled: bool = param(False, "Answer nav_r1/question from a scene memory built from the RGB-D stream")
    backend: str = param("", "Scene model: empty = the navigation model's own backend (one model in memory); "
                         "or transformers:DIR | openai:URL#model | scripted:FILE")
    # The colour/depth camera in base_link, as the control node's depth.base_T_camera (body frame).
    base_T_camera: tuple[float, ...] = param(  # noqa: N815 (frame-pair notation, as in the docs)
        (0.2, 0.0, 0.5, 0.0, 0.0, 0.0), "Camera body frame in base_link: x, y, z [m], roll, pitch, yaw [rad]")
    odom_timeout_s: float = param(0.2, "A frame without odometry this close to its stamp has no pose [s]",
                                  min=0.0, max=10.0)
    sync_tolerance_s: float = param(0.05, "Largest colour/depth stamp difference paired [s]", min=0.0, max=1.0)
    frame_period_s: float = param(0.5, "Fuse at most one frame per this period [s]", min=0.0, max=60.0)
    pose_timeout_s: float = param(1.0, "Odometry received longer ago than this gives no robot pose [s]",
                                  min=0.01, max=60.0)
    view_scorer: str = param("", "Question relevance for view selection: empty = coverage only; clip:DIR[#DEVICE] "
                             "(a local CLIP model, 3D-R1's scorer)")
    tick_hz: float = param(10.0, "How often a running plan checks arrival, the arm and timeouts [Hz]",
                           min=0.5, max=100.0)
    memory: MemoryConfig = nested(MemoryConfig, "Scene memory bounds")
    service: ServiceConfig = nested(ServiceConfig, "View selection and dialogue history")
    lift: LiftConfig = nested(LiftConfig, "2D box -> 3D box lifting")
    drive: DriveConfig = nested(DriveConfig, "Go-to goals from grounded boxes")
    execute: ExecuteConfig = nested(ExecuteConfig, "Plan steps: arrival, arm completion, timeouts")

    def __post_init__(self) -> None:
        validate_params(self)
        if len(self.base_T_camera) != 6 or not all(math.isfinite(v) for v in self.base_T_camera):
            raise ParamError("parameter 'scene.base_T_camera' must be 6 finite numbers: x, y, z, roll, pitch, yaw")


def odom_pose(msg: Odometry) -> NDArray[np.float64] | None:
    """odom_T_base_link (4x4) from an Odometry message, or None when it is not finite or not a rotation."""
    p, q = msg.pose.pose.position, msg.pose.pose.orientation
    quat = np.array([q.x, q.y, q.z, q.w], dtype=float)
    xyz = np.array([p.x, p.y, p.z], dtype=float)
    if not (np.all(np.isfinite(quat)) and np.all(np.isfinite(xyz))) or abs(np.linalg.norm(quat) - 1.0) > 1e-2:
        return None
    out = np.eye(4)
    out[:3, :3] = Rotation.from_quat(quat).as_matrix()
    out[:3, 3] = xyz
    return out


def robot_pose(odom_T_base: NDArray[np.float64]) -> Pose2D:  # noqa: N803 (frame-pair notation)
    """The planar pose (x, y, yaw, z) of base_link in odom."""
    yaw = math.atan2(float(odom_T_base[1, 0]), float(odom_T_base[0, 0]))
    return Pose2D(float(odom_T_base[0, 3]), float(odom_T_base[1, 3]), yaw, float(odom_T_base[2, 3]))


def markers_for(answer: Answer, frame_id: str, stamp: Any) -> MarkerArray:
    """The answer's boxes as cubes with text labels (the previous set deleted first)."""
    out = MarkerArray()
    clear = Marker()
    clear.action = Marker.DELETEALL
    out.markers.append(clear)
    for i, obj in enumerate(answer.objects):
        for kind in (Marker.CUBE, Marker.TEXT_VIEW_FACING):
            m = Marker()
            m.header.frame_id = frame_id
            m.header.stamp = stamp
            m.ns = "nav_r1_grounding"
            m.id = 2 * i + (kind == Marker.TEXT_VIEW_FACING)
            m.type = kind
            m.action = Marker.ADD
            cx, cy, cz = obj.box.center
            sx, sy, sz = obj.box.size
            m.pose.position.x, m.pose.position.y = cx, cy
            m.pose.position.z = cz if kind == Marker.CUBE else cz + sz / 2 + 0.15
            m.pose.orientation.w = 1.0
            if kind == Marker.CUBE:
                m.scale.x, m.scale.y, m.scale.z = max(sx, 0.01), max(sy, 0.01), max(sz, 0.01)
                m.color.r, m.color.g, m.color.b, m.color.a = 0.1, 0.8, 0.2, 0.4
            else:
                m.scale.z = 0.15
                m.text = obj.label
                m.color.r = m.color.g = m.color.b = m.color.a = 1.0
            out.markers.append(m)
    return out


def scene_service(cfg: SceneConfig, reasoner: object) -> SceneService:
    """The scene service over ``cfg.backend``, or over the navigation reasoner's own backend when it is empty."""
    backend: VLMBackend | None = make_backend(cfg.backend) if cfg.backend else getattr(reasoner, "backend", None)
    if backend is None:
        raise ParamError(f"parameter 'scene.backend' is empty, so scene questions would use the navigation "
                         f"reasoner's model, but '{getattr(reasoner, 'name', reasoner)}' has none (the "
                         "simulator expert?); set scene.backend to transformers:DIR, openai:URL#model or scripted:FILE")
    try:
        scorer = make_view_scorer(cfg.view_scorer)
    except ValueError as exc:  # ParamError is one; a bad CLIP directory is another
        raise ParamError(f"parameter 'scene.view_scorer': {exc}") from exc
    return SceneService(VLMSceneReasoner(backend), SceneMemory(cfg.memory), cfg.service, scorer=scorer, lift=cfg.lift)


Job = Callable[[], object]


class SceneInterface:
    """Camera and odometry in; answers, grounding markers, goals and arm steps out (see the module docstring)."""

    def __init__(self, node: Node, cfg: SceneConfig, service: SceneService, odom_frame: str,
                 submit: Callable[[Job], None], direct: Callable[[str, tuple[Pose2D, ...]], None]) -> None:
        self.node, self.cfg, self.service = node, cfg, service
        self.memory: SceneMemory = service.memory
        self.director = SceneDirector(cfg.drive, cfg.execute)
        self._odom_frame, self._submit, self._direct = odom_frame, submit, direct
        self._base_T_cam = base_T_optical(cfg.base_T_camera)
        self._lock = threading.Lock()
        self._memory_lock = threading.Lock()
        self._odom: deque[tuple[float, NDArray[np.float64]]] = deque(maxlen=400)
        self._colors: deque[tuple[float, NDArray[np.uint8]]] = deque(maxlen=8)  # recent (stamp, rgb)
        self._depth: tuple[float, NDArray[np.float32]] | None = None  # (stamp, metres) waiting for its colour
        self._intrinsics: CameraIntrinsics | None = None
        self._last_fused = -math.inf
        self.frames_dropped_busy = 0
        # Written by the odom callback, read by the worker: whole-tuple swaps only.
        self._last_odom: tuple[float, NDArray[np.float64]] | None = None  # (monotonic arrival, odom_T_base)
        sensors, control = MutuallyExclusiveCallbackGroup(), MutuallyExclusiveCallbackGroup()
        self.answer_pub = node.create_publisher(String, topics.ANSWER, RELIABLE_QOS)
        self.marker_pub = node.create_publisher(MarkerArray, topics.GROUNDING, RELIABLE_QOS)
        self.arm_pub = node.create_publisher(String, topics.VLA_INSTRUCTION, RELIABLE_QOS)
        node.create_subscription(CameraInfo, topics.COLOR_INFO, self._on_info, SENSOR_QOS, callback_group=sensors)
        node.create_subscription(String, topics.QUESTION, self._on_question, RELIABLE_QOS, callback_group=control)
        node.create_subscription(String, topics.VLA_STATUS, self._on_arm_status, RELIABLE_QOS,
                                 callback_group=control)
        node.create_timer(1.0 / cfg.tick_hz, self._on_tick, callback_group=control)
        node.get_logger().info(f"answering {topics.QUESTION} with '{service.reasoner.name}'; memory voxel "
                               f"{cfg.memory.voxel_size_m} m, {cfg.memory.max_key_views} key views")

    def _now(self) -> float:
        return float(self.node.get_clock().now().nanoseconds) * 1e-9

    # -- sensors ---------------------------------------------------------------------------
    def _on_info(self, msg: CameraInfo) -> None:
        try:
            self._intrinsics = CameraIntrinsics.from_matrix(camera_info_to_matrix(msg), msg.width, msg.height)
        except (ConversionError, ValueError) as exc:
            self.node.get_logger().error(f"bad camera_info: {exc}", throttle_duration_sec=5.0)

    def on_odom(self, msg: Odometry) -> None:
        """An odometry message (the owning node's subscription forwards it)."""
        pose = odom_pose(msg)
        if pose is None:
            self.node.get_logger().error("odometry with a non-finite or non-unit pose dropped by the scene memory",
                                         throttle_duration_sec=5.0)
            return
        self._odom.append((stamp_to_sec(msg.header.stamp), pose))
        self._last_odom = (time.monotonic(), pose)

    def on_color(self, stamp: float, rgb: NDArray[np.uint8]) -> None:
        """A colour frame the owning node has already converted (one conversion per frame)."""
        self._colors.append((stamp, rgb))
        self._try_fuse()

    def _pose_at(self, t: float) -> NDArray[np.float64] | None:
        best = min(self._odom, key=lambda s: abs(s[0] - t), default=None)
        if best is None or abs(best[0] - t) > self.cfg.odom_timeout_s:
            return None
        return best[1] @ self._base_T_cam

    def on_depth(self, msg: Image) -> None:
        """A depth image; converted only when a frame is due (``frame_period_s``)."""
        t = stamp_to_sec(msg.header.stamp)
        if t - self._last_fused < self.cfg.frame_period_s:
            return
        try:
            self._depth = (t, depth_image_to_metres(msg))
        except ConversionError as exc:
            self.node.get_logger().error(f"depth frame dropped: {exc}", throttle_duration_sec=5.0)
            return
        self._try_fuse()

    def _try_fuse(self) -> None:
        """Fuse the waiting depth frame with the colour frame at its stamp (either may arrive first)."""
        depth, k = self._depth, self._intrinsics
        if depth is None:
            return
        t = depth[0]
        color = min(self._colors, key=lambda c: abs(c[0] - t), default=None)
        if color is None or abs(color[0] - t) > self.cfg.sync_tolerance_s:
            if self._colors and self._colors[-1][0] > t + self.cfg.sync_tolerance_s:
                self._depth = None  # colour has moved past its stamp: its frame was lost
                self.node.get_logger().warning("depth frame without a colour frame at its stamp: dropped",
                                               throttle_duration_sec=5.0)
            return  # else its colour frame may still come (a newer depth frame replaces this one)
        if k is None:
            self._depth = None
            self.node.get_logger().warning("RGB-D frame before any camera_info: dropped", throttle_duration_sec=5.0)
            return
        self._depth = None
        frame = Frame(color[1], depth[1], k, self._pose_at(t), t)
        if not self._memory_lock.acquire(blocking=False):
            self.frames_dropped_busy += 1
            return
        try:
            result = self.memory.add_frame(frame)
        finally:
            self._memory_lock.release()
        if result.accepted:
            self._last_fused = t
        else:
            self.node.get_logger().warning(f"frame refused: {result.reason}", throttle_duration_sec=5.0)

    def robot(self) -> Pose2D | None:
        """The robot's planar pose in odom, or None when odometry is older than ``pose_timeout_s``."""
        last = self._last_odom
        if last is None or time.monotonic() - last[0] > self.cfg.pose_timeout_s:
            return None
        return robot_pose(last[1])

    # -- questions, plan runs and the arm --------------------------------------------------
    def _ask(self, question: Question) -> Answer:
        """One model call on the worker thread; frames arriving meanwhile are dropped, not queued."""
        with self._memory_lock:
            return self.service.ask(question)

    def _on_question(self, msg: String) -> None:
        try:
            question = Question.from_message(msg.data)
        except ProtocolError as exc:
            text = msg.data[:MAX_QUESTION_CHARS] if msg.data.strip() else "(empty)"
            self._publish(Answer.failure(Question(text), f"bad_question: {exc}"))
            return

        self._ask_then(self.director.asked(question),
                       lambda answer, robot, now: self.director.on_answer(question, answer, robot, now))

    def _ground_step(self, request: GroundRequest) -> None:
        self._ask_then(self.director.step_question(request),
                       lambda answer, robot, now: self.director.on_step_answer(request, answer, robot, now))

    def _ask_then(self, asked: Question,
                  handle: Callable[[Answer, Pose2D | None, float], list[DirectorEffect]]) -> None:
        """On the worker: ask the model, hand the answer to the director (under ``_lock``), apply its effects."""
        def job() -> None:
            answer = self._ask(asked)
            with self._lock:
                effects = handle(answer, self.robot(), self._now())
            self._apply(effects)

        self._submit(job)

    def _on_arm_status(self, msg: String) -> None:
        try:
            status = loads_bounded(msg.data)
        except ValueError:
            status = None
        if not isinstance(status, dict):
            self.node.get_logger().warning("vla_r1/status that is not a JSON object ignored",
                                           throttle_duration_sec=5.0)
            return
        with self._lock:
            effects = self.director.on_arm_status(status, self._now())
        self._apply(effects)

    def _on_tick(self) -> None:
        with self._lock:
            effects = self.director.tick(self.robot(), self._now())
        self._apply(effects)

    def cancel(self, reason: str) -> None:
        """A new navigation instruction took over: stop the plan run in progress (its last progress answer)."""
        with self._lock:
            effects = self.director.cancel(reason)
        self._apply(effects)

    def _apply(self, effects: Sequence[DirectorEffect]) -> None:
        for effect in effects:
            if isinstance(effect, Answer):
                self._publish(effect)
            elif isinstance(effect, Drive):
                self._direct(effect.label, effect.plan.poses if effect.plan is not None else ())
            elif isinstance(effect, ArmRequest):
                self.arm_pub.publish(String(data=effect.text))
                self.node.get_logger().info(f"plan {effect.run_id} step {effect.step + 1}: arm <- {effect.text!r}")
            elif isinstance(effect, GroundRequest):
                self._ground_step(effect)

    def _publish(self, answer: Answer) -> None:
        self.answer_pub.publish(String(data=answer.to_json()))
        if answer.model != PROGRESS_MODEL:  # a progress report keeps the boxes of the answer before it
            self.marker_pub.publish(markers_for(answer, self._odom_frame, self.node.get_clock().now().to_msg()))
        if answer.error:
            self.node.get_logger().warning(f"answered with an error: {answer.error}", throttle_duration_sec=2.0)


__all__ = ["SceneConfig", "SceneInterface", "base_T_optical", "markers_for", "odom_pose", "robot_pose", "scene_service"]
