"""VLA node: instruction + RGB-D + camera_info + joint_states in; a joint trajectory and status out.

In: ``vla_r1/instruction`` (std_msgs/String; an optional ``affordance:`` / ``trajectory:`` prefix
picks the task, otherwise ``default_task``), ``camera/color/image_raw``, ``camera/depth/image_raw``
(aligned to colour; 32FC1 metres or 16UC1 millimetres), ``camera/color/camera_info``,
``joint_states``.  Out: ``arm_controller/joint_trajectory`` (arm and gripper joints) and
``vla_r1/status`` (JSON: state, task, reasoning, reply, reason, model, timings, targets).

Threads: subscriptions (Reentrant group) only store the latest messages, with their receipt time
on the node's clock (simulation time under ``use_sim_time``), under ``_lock``; one worker thread
owns the :class:`~vla_r1.core.VlaCore` (reasoner, planner) and the MoveIt executor, and runs
inference and planning so that no callback ever waits on the model.  A new instruction is consumed once, as an edge; one
arriving while the worker is busy replaces any older pending one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory

from r1_core import topics
from r1_core.params import ParamError, nested, param, validate_params
from r1_core.reasoner import Frame
from r1_core.ros.convert import ConversionError, camera_info_to_matrix, depth_image_to_metres, rgb_from_image
from r1_core.ros.node_main import run_node
from r1_core.ros.params import declare_config
from r1_core.ros.qos import RELIABLE_QOS, SENSOR_QOS
from vla_r1.core import INPUTS, ArmInputs, VlaCore, VlaCoreConfig
from vla_r1.geometry import Intrinsics
from vla_r1.kinematics import ArmKinematics
from vla_r1.nodes.convert import trajectory_to_msg
from vla_r1.parse import SCALES, TASKS
from vla_r1.planner import MotionPlan, MotionPlanner, PlannerConfig
from vla_r1.reasoners import make_reasoner
from vla_r1.urdf import Urdf

INSTRUCTION_TOPIC = topics.VLA_INSTRUCTION
STATUS_TOPIC = topics.VLA_STATUS
TRAJECTORY_TOPIC = topics.ARM_TRAJECTORY


@dataclass(frozen=True)
class VlaNodeConfig:
    """Parameters of the VLA node."""

    backend: str = param("", "Reasoner: transformers:PATH, openai:URL[#model] or scripted:FILE (one reply per line)")
    default_task: str = param("affordance", "Task when the instruction has no prefix", choices=TASKS)
    coord_scale: str = param("auto", "How reply coordinates are scaled", choices=SCALES)
    execution: str = param(
        "direct", "direct: our IK + JointTrajectory; moveit: moveit_py", choices=("direct", "moveit")
    )
    urdf: str = param("", "Arm URDF (empty: r1_description's arm.urdf)")
    camera_frame: str = param("camera_color_optical_frame", "URDF link of the colour camera's optical frame")
    sensor_timeout_s: float = param(1.0, "Images and camera_info older than this are refused [s]", min=0.01)
    joint_state_timeout_s: float = param(0.5, "Joint states older than this are refused [s]", min=0.01)
    planner: PlannerConfig = nested(PlannerConfig, "Motion planning")

    def __post_init__(self) -> None:
        validate_params(self)


class VlaNode(Node):
    """Runs VLA-R1-style reasoning and the control stack on instructions."""

    #: Inference and planning run in the worker; callbacks are short: a single-threaded executor.
    executor_kind = "single"

    def __init__(self) -> None:
        super().__init__("vla_node")
        self.cfg = declare_config(self, VlaNodeConfig)
        if not self.cfg.backend:
            raise ParamError("parameter 'backend' is required (transformers:PATH | openai:URL | scripted:FILE)")
        self.reasoner = make_reasoner(self.cfg.backend)
        try:
            self.kin = ArmKinematics(self.cfg.urdf or None)
        except (ValueError, OSError) as exc:
            raise ParamError(f"parameter 'urdf': {exc}") from exc
        try:
            base_from_camera = Urdf.load(self.kin.urdf_file).link_pose(self.cfg.camera_frame)
        except ValueError as exc:
            raise ParamError(f"parameter 'camera_frame': {exc}") from exc
        self.planner = MotionPlanner(self.kin, base_from_camera, self.cfg.planner)
        self.core = VlaCore(self.reasoner, self.planner, self.kin, VlaCoreConfig(
            self.cfg.default_task, self.cfg.coord_scale, self.cfg.sensor_timeout_s, self.cfg.joint_state_timeout_s))
        self.executor_moveit: Any = None
        if self.cfg.execution == "moveit":
            from vla_r1.moveit_backend import MoveItExecutor

            self.executor_moveit = MoveItExecutor()
        self._lock = threading.Lock()
        self._latest: dict[str, tuple[float, Any]] = {}
        self._pending: str | None = None
        self._wake = threading.Event()
        self._closing = False
        self.traj_pub = self.create_publisher(JointTrajectory, TRAJECTORY_TOPIC, RELIABLE_QOS)
        self.status_pub = self.create_publisher(String, STATUS_TOPIC, RELIABLE_QOS)
        io = ReentrantCallbackGroup()
        self.create_subscription(String, INSTRUCTION_TOPIC, self._on_instruction, RELIABLE_QOS, callback_group=io)
        for topic, kind, qos in (
            (topics.COLOR_IMAGE, Image, SENSOR_QOS),
            (topics.DEPTH_IMAGE, Image, SENSOR_QOS),
            (topics.COLOR_INFO, CameraInfo, SENSOR_QOS),
            (topics.JOINT_STATES, JointState, RELIABLE_QOS),
        ):
            self.create_subscription(kind, topic, lambda m, t=topic: self._store(t, m), qos, callback_group=io)
        self._worker = threading.Thread(target=self._run, name="vla_worker", daemon=True)
        self._worker.start()
        self.get_logger().info(f"reasoner '{self.reasoner.name}', execution '{self.cfg.execution}'")

    # -- callbacks: store only ---------------------------------------------------------------
    def _now(self) -> float:
        """The node's clock [s]: simulation or bag time under use_sim_time, so staleness follows it."""
        return float(self.get_clock().now().nanoseconds) * 1e-9

    def _store(self, topic: str, msg: Any) -> None:
        received = self._now()
        with self._lock:
            self._latest[topic] = (received, msg)

    def _on_instruction(self, msg: String) -> None:
        with self._lock:
            self._pending = msg.data
        self._wake.set()

    def close(self) -> None:
        """Stop the worker (called by run_node before the node is destroyed)."""
        self._closing = True
        self._wake.set()
        self._worker.join(timeout=5.0)

    # -- worker ------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._closing:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                text, self._pending = self._pending, None
            if text is None or self._closing:
                continue
            try:
                status = self._handle(text)
            except Exception as exc:  # the worker must survive anything a backend throws
                status = {"state": "error", "instruction": text, "reason": f"{type(exc).__name__}: {exc}"}
            self.status_pub.publish(String(data=json.dumps(status)))
            level = self.get_logger().info if status["state"] == "planned" else self.get_logger().warning
            level(f"{status['state']}: {status.get('reason') or status.get('task')}")

    def _handle(self, text: str) -> dict[str, Any]:
        """Convert the latest messages and let the core decide; the node only converts and publishes."""
        task, instruction = self.core.task_of(text)
        status: dict[str, Any] = {"state": "refused", "task": task, "instruction": instruction}
        with self._lock:
            latest = dict(self._latest)
        why = self.core.stale_reason({t: stamp for t, (stamp, _) in latest.items()}, self._now())
        if why:
            return {**status, "reason": why}
        msgs = {t: latest[t][1] for t in INPUTS}
        try:
            info = msgs[topics.COLOR_INFO]
            js: JointState = msgs[topics.JOINT_STATES]
            frame = Frame(rgb_from_image(msgs[topics.COLOR_IMAGE]), depth_image_to_metres(msgs[topics.DEPTH_IMAGE]))
            k = Intrinsics.from_matrix(camera_info_to_matrix(info), info.width, info.height)
            inputs = ArmInputs(frame, k, dict(zip(js.name, (float(p) for p in js.position), strict=False)))
        except (ConversionError, ValueError) as exc:
            return {**status, "reason": f"bad sensor data: {exc}"}
        outcome = self.core.run(task, instruction, inputs)
        if outcome.plan is None:
            return outcome.status
        return self._execute(outcome.plan, outcome.status)

    def _execute(self, plan: MotionPlan, status: dict[str, Any]) -> dict[str, Any]:
        assert plan.trajectory is not None
        if self.executor_moveit is not None:
            c = self.cfg.planner
            err = self.executor_moveit.execute(plan, c.gripper_open, c.gripper_closed)
            return {**status, "state": "error" if err else "executed", "reason": err}
        msg = trajectory_to_msg(plan.joint_names, plan.trajectory)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.traj_pub.publish(msg)
        return {**status, "state": "planned", "duration_s": plan.trajectory.duration, "points": len(msg.points)}


def main(args: Sequence[str] | None = None) -> int:
    """Console entry point."""
    return run_node(VlaNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
