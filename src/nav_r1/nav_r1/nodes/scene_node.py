"""Scene questions on the robot: RGB-D + odom into a scene memory, ``nav_r1/question`` -> ``nav_r1/answer``.

A thin rclpy shell around :class:`nav_r1.scene.service.SceneService`: it converts messages, pairs
each depth frame with the latest colour frame and the odometry pose nearest its stamp, and
publishes answers (JSON, :class:`nav_r1.scene.protocol.Answer`) and the grounded boxes as a
``visualization_msgs/MarkerArray`` in the odom frame for RViz. A go-to question ("go to the red
chair") with a valid grounded box also becomes a ``nav_msgs/Path`` on ``nav_r1/plan`` in the odom
frame (:mod:`nav_r1.scene.drive`), republished unchanged at ``plan_heartbeat_hz`` for
``plan_hold_s`` so the control node does not drop it as stale; without a box there is no plan and
the answer says why (``no_goal:``).

Threads: sensor callbacks run in one mutually exclusive group, questions in another, so a slow
model never blocks the camera. The memory is guarded by ``_lock``; a sensor callback that finds
the lock held by a question drops its frame (counted) instead of waiting. Stale input: a depth
frame with no odometry within ``odom_timeout_s`` of its stamp has no pose and is refused; a go-to
with no odometry received within ``pose_timeout_s`` has no robot pose and no goal.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry, Path
from numpy.typing import NDArray
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String
from visualization_msgs.msg import Marker, MarkerArray

from nav_r1.control.depth import rpy_matrix
from nav_r1.scene.drive import DriveConfig, GoalPlan, ask_and_resolve
from nav_r1.scene.grounding import LiftConfig
from nav_r1.scene.memory import CameraIntrinsics, Frame, MemoryConfig, SceneMemory
from nav_r1.scene.protocol import MAX_QUESTION_CHARS, Answer, ProtocolError, Question
from nav_r1.scene.reasoners import VLMSceneReasoner
from nav_r1.scene.service import SceneService, ServiceConfig
from r1_core import topics
from r1_core.backends import make_backend
from r1_core.params import ParamError, param, validate_params
from r1_core.reasoner import Pose2D
from r1_core.ros.convert import (
    ConversionError,
    camera_info_to_matrix,
    depth_image_to_metres,
    rgb_from_image,
    stamp_to_sec,
    yaw_to_quaternion,
)
from r1_core.ros.node_main import run_node
from r1_core.ros.params import declare_config
from r1_core.ros.qos import RELIABLE_QOS, SENSOR_QOS

# Camera body frame (REP-103: x forward, y left, z up) from the optical frame (z forward, x right, y down).
BODY_R_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


@dataclass(frozen=True)
class SceneNodeConfig:
    """Parameters of the scene node (memory and answering are ``memory.*`` and ``service.*``)."""

    reasoner: str = param("", "VLM backend spec: transformers:DIR, openai:URL#model or scripted:FILE")
    # The colour/depth camera in base_link, as the control node's depth.base_T_camera (body frame).
    base_T_camera: tuple[float, ...] = param(  # noqa: N815 (frame-pair notation, as in the docs)
        (0.2, 0.0, 0.5, 0.0, 0.0, 0.0), "Camera body frame in base_link: x, y, z [m], roll, pitch, yaw [rad]")
    odom_frame: str = param("odom", "frame_id of the grounding markers (the memory's frame)")
    odom_timeout_s: float = param(0.2, "A frame without odometry this close to its stamp has no pose [s]",
                                  min=0.0, max=10.0)
    sync_tolerance_s: float = param(0.05, "Largest colour/depth stamp difference paired [s]", min=0.0, max=1.0)
    frame_period_s: float = param(0.5, "Fuse at most one frame per this period [s]", min=0.0, max=60.0)
    # Off by default: the reasoning node publishes on the same topic, and the last plan wins.
    publish_plans: bool = param(False, "Publish a plan on nav_r1/plan for go-to questions with a grounded box "
                                "(only while the reasoning node follows no instruction)")
    pose_timeout_s: float = param(1.0, "Odometry received longer ago than this gives no robot pose for a goal [s]",
                                  min=0.01, max=60.0)
    plan_heartbeat_hz: float = param(2.0, "Republish the current goal plan at this rate (liveness) [Hz]",
                                     min=0.1, max=50.0)
    plan_hold_s: float = param(120.0, "Stop republishing a goal plan this long after it was sent [s]",
                               min=0.0, max=3600.0)

    def __post_init__(self) -> None:
        validate_params(self)
        if not self.reasoner:
            raise ParamError("parameter 'reasoner' must name a backend (transformers:DIR, openai:URL#model, "
                             "scripted:FILE)")
        if len(self.base_T_camera) != 6 or not all(math.isfinite(v) for v in self.base_T_camera):
            raise ParamError("parameter 'base_T_camera' must be 6 finite numbers: x, y, z, roll, pitch, yaw")


def base_T_optical(xyzrpy: Sequence[float]) -> NDArray[np.float64]:  # noqa: N802 (frame-pair notation)
    """base_link_T_camera_optical (4x4) from the camera body frame's x, y, z, roll, pitch, yaw."""
    x, y, z, roll, pitch, yaw = xyzrpy
    out = np.eye(4)
    out[:3, :3] = rpy_matrix(roll, pitch, yaw) @ BODY_R_OPTICAL
    out[:3, 3] = (x, y, z)
    return out


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


def plan_message(plan: GoalPlan, frame_id: str, stamp: Any) -> Path:
    """A goal plan as the ``nav_msgs/Path`` the control node follows (the reasoning node's form)."""
    msg = Path()
    msg.header.frame_id = frame_id
    msg.header.stamp = stamp
    for p in plan.poses:
        ps = PoseStamped()
        ps.header = msg.header
        ps.pose.position.x, ps.pose.position.y, ps.pose.position.z = p.x, p.y, p.z
        ps.pose.orientation = yaw_to_quaternion(p.yaw)
        msg.poses.append(ps)
    return msg


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


class SceneNode(Node):
    """Camera and odometry in, scene answers and grounding markers out."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("scene_node", **kwargs)
        self.cfg = declare_config(self, SceneNodeConfig)
        memory_cfg = declare_config(self, MemoryConfig, "memory.")
        service_cfg = declare_config(self, ServiceConfig, "service.")
        lift_cfg = declare_config(self, LiftConfig, "lift.")
        self.drive_cfg = declare_config(self, DriveConfig, "drive.")
        reasoner = VLMSceneReasoner(make_backend(self.cfg.reasoner))
        self.memory = SceneMemory(memory_cfg)
        self.service = SceneService(reasoner, self.memory, service_cfg, lift=lift_cfg)
        self._base_T_cam = base_T_optical(self.cfg.base_T_camera)
        self._lock = threading.Lock()
        self._odom: deque[tuple[float, NDArray[np.float64]]] = deque(maxlen=400)
        self._color: tuple[float, NDArray[np.uint8]] | None = None
        self._intrinsics: CameraIntrinsics | None = None
        self._last_fused = -math.inf
        self.frames_dropped_busy = 0
        # Written by the odom callback / question callback, read by others: whole-tuple swaps only.
        self._last_odom: tuple[float, NDArray[np.float64]] | None = None  # (monotonic arrival, odom_T_base)
        self._goal: tuple[float, Path] | None = None  # (monotonic send time, the plan republished)
        sensors, questions = MutuallyExclusiveCallbackGroup(), MutuallyExclusiveCallbackGroup()
        self.plan_pub = self.create_publisher(Path, topics.PLAN, RELIABLE_QOS)
        self.create_timer(1.0 / self.cfg.plan_heartbeat_hz, self._heartbeat,
                          callback_group=MutuallyExclusiveCallbackGroup())
        self.answer_pub = self.create_publisher(String, topics.ANSWER, RELIABLE_QOS)
        self.marker_pub = self.create_publisher(MarkerArray, topics.GROUNDING, RELIABLE_QOS)
        self.create_subscription(CameraInfo, topics.COLOR_INFO, self._on_info, SENSOR_QOS, callback_group=sensors)
        self.create_subscription(Image, topics.COLOR_IMAGE, self._on_color, SENSOR_QOS, callback_group=sensors)
        self.create_subscription(Image, topics.DEPTH_IMAGE, self._on_depth, SENSOR_QOS, callback_group=sensors)
        self.create_subscription(Odometry, topics.ODOM, self._on_odom, SENSOR_QOS, callback_group=sensors)
        self.create_subscription(String, topics.QUESTION, self._on_question, RELIABLE_QOS, callback_group=questions)
        self.get_logger().info(f"answering {topics.QUESTION} with '{reasoner.name}'; memory voxel "
                               f"{memory_cfg.voxel_size_m} m, {memory_cfg.max_key_views} key views")

    # -- sensors ---------------------------------------------------------------------------
    def _on_info(self, msg: CameraInfo) -> None:
        try:
            self._intrinsics = CameraIntrinsics.from_matrix(camera_info_to_matrix(msg), msg.width, msg.height)
        except (ConversionError, ValueError) as exc:
            self.get_logger().error(f"bad camera_info: {exc}", throttle_duration_sec=5.0)

    def _on_odom(self, msg: Odometry) -> None:
        pose = odom_pose(msg)
        if pose is None:
            self.get_logger().error("odometry with a non-finite or non-unit pose dropped", throttle_duration_sec=5.0)
            return
        self._odom.append((stamp_to_sec(msg.header.stamp), pose))
        self._last_odom = (time.monotonic(), pose)

    def _on_color(self, msg: Image) -> None:
        try:
            self._color = (stamp_to_sec(msg.header.stamp), rgb_from_image(msg))
        except ConversionError as exc:
            self.get_logger().error(f"colour frame dropped: {exc}", throttle_duration_sec=5.0)

    def _pose_at(self, t: float) -> NDArray[np.float64] | None:
        best = min(self._odom, key=lambda s: abs(s[0] - t), default=None)
        if best is None or abs(best[0] - t) > self.cfg.odom_timeout_s:
            return None
        return best[1] @ self._base_T_cam

    def _on_depth(self, msg: Image) -> None:
        t = stamp_to_sec(msg.header.stamp)
        if t - self._last_fused < self.cfg.frame_period_s:
            return
        color, k = self._color, self._intrinsics
        if color is None or k is None or abs(color[0] - t) > self.cfg.sync_tolerance_s:
            self.get_logger().warning("depth frame without camera_info or a colour frame at its stamp: dropped",
                                      throttle_duration_sec=5.0)
            return
        try:
            depth = depth_image_to_metres(msg)
        except ConversionError as exc:
            self.get_logger().error(f"depth frame dropped: {exc}", throttle_duration_sec=5.0)
            return
        frame = Frame(color[1], depth, k, self._pose_at(t), t)
        if not self._lock.acquire(blocking=False):
            self.frames_dropped_busy += 1
            return
        try:
            result = self.memory.add_frame(frame)
        finally:
            self._lock.release()
        if result.accepted:
            self._last_fused = t
        else:
            self.get_logger().warning(f"frame refused: {result.reason}", throttle_duration_sec=5.0)

    # -- questions -------------------------------------------------------------------------
    def _on_question(self, msg: String) -> None:
        try:
            question = Question.from_message(msg.data)
        except ProtocolError as exc:
            text = msg.data[:MAX_QUESTION_CHARS] if msg.data.strip() else "(empty)"
            answer = Answer.failure(Question(text), f"bad_question: {exc}")
        else:
            last = self._last_odom
            robot = robot_pose(last[1]) if last and time.monotonic() - last[0] <= self.cfg.pose_timeout_s else None
            with self._lock:
                answer, plan = ask_and_resolve(self.service, question, robot, self.drive_cfg)
            if plan is not None and answer.action is not None:
                if self.cfg.publish_plans:
                    msg = plan_message(plan, self.cfg.odom_frame, self.get_clock().now().to_msg())
                    self._goal = (time.monotonic(), msg)
                    self.plan_pub.publish(msg)
                answer = dataclasses.replace(answer, action={**answer.action, "published": self.cfg.publish_plans})
        self.answer_pub.publish(String(data=answer.to_json()))
        self.marker_pub.publish(markers_for(answer, self.cfg.odom_frame, self.get_clock().now().to_msg()))
        if answer.error:
            self.get_logger().warning(f"answered with an error: {answer.error}", throttle_duration_sec=2.0)

    def _heartbeat(self) -> None:
        goal = self._goal
        if goal is None:
            return
        if time.monotonic() - goal[0] > self.cfg.plan_hold_s:
            if self._goal is goal:  # a newer goal may have been set meanwhile
                self._goal = None
            return
        self.plan_pub.publish(goal[1])  # the same stamp and poses: the control node only refreshes its age


def main(args: Sequence[str] | None = None) -> int:
    """``python -m nav_r1.nodes.scene_node`` (not yet a console script)."""
    return run_node(SceneNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
