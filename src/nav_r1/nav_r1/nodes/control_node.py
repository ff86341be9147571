"""The fast control node: plan, odometry, depth and teleop in; ``cmd_vel`` at 100 Hz out.

A thin shell around :class:`~nav_r1.control.controller.FastController`: it converts messages and
calls the core.  It never loads a model: the reasoning node runs in its own process.

Threads:

- the executor thread of ``r1_core.ros.node_main.run_node`` (a SingleThreadedExecutor, asked for
  with ``executor_kind``) runs the loop timer, which calls :meth:`ControlNode.tick`, and the short
  input callbacks;
- depth images / point clouds run on a helper node (``<name>_sensing``) spun by its own
  SingleThreadedExecutor in the ``sensing`` thread: projection and the zone check happen outside
  the lock, so a 640x480 frame never delays the timer, and a newly triggered stop zone publishes
  zero from that thread at once instead of waiting for the next tick;
- odometry, plans, teleop and locks only store values (microseconds each).

``_lock`` guards the controller (the one owner of control state); each holder keeps it for
microseconds.  The loop statistics have their own lock.  With ``realtime_priority`` > 0 (opt-in;
50 is ros2_control's choice) every thread of the node runs SCHED_FIFO, so a busy reasoning
process on the same cores cannot delay the loop (bench/bench_control.py measures both).  The GIL is still shared, so the
node shortens Python's switch interval (``gil_switch_interval_s``): a busy depth thread cannot
hold the timer for 5 ms.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import rclpy
from geometry_msgs.msg import Twist as TwistMsg
from geometry_msgs.msg import TwistStamped
from nav_msgs.msg import Odometry as OdometryMsg
from nav_msgs.msg import Path
from numpy.typing import NDArray
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Bool, String

from nav_r1.control import ControlConfig, ControlOutput, DepthProjector, FastController, Odometry, Plan, Twist
from nav_r1.control.depth import base_from_optical
from nav_r1.control.stats import PeriodStats
from nav_r1.nodes.obstacle_node import projector_for_info
from r1_core.params import param, validate_params
from r1_core.reasoner import Pose2D
from r1_core.ros.convert import (
    ConversionError,
    cloud_to_xyz,
    depth_image_to_metres,
    quaternion_to_yaw,
    sec_to_stamp,
    stamp_to_sec,
)
from r1_core.ros.node_main import run_node, set_realtime_priority
from r1_core.ros.params import declare_config
from r1_core.ros.qos import RELIABLE_QOS, SENSOR_QOS
from r1_core.ros.sim_sync import SyncParticipant

PLAN_TOPIC = "nav_r1/plan"
DEPTH_TOPIC = "camera/depth/image_raw"
DEPTH_INFO_TOPIC = "camera/depth/camera_info"
SAFETY_TOPIC = "nav_r1/safety"
STATS_TOPIC = "nav_r1/control_stats"
STATE_TOPIC = "nav_r1/control_state"


@dataclass(frozen=True)
class ControlNodeConfig:
    """Parameters of the node itself (the control ones are in ControlConfig)."""

    obstacle_source: str = param("depth", "Obstacles from a depth image, a PointCloud2, or none",
                                 choices=("depth", "pointcloud", "none"))
    pointcloud_topic: str = param("stereo/points", "PointCloud2 topic when obstacle_source is pointcloud")
    pointcloud_frame: str = param("camera_optical", "Frame of the cloud's points: the depth camera's "
                                  "optical frame (uses depth.base_T_camera) or base_link",
                                  choices=("camera_optical", "base_link"))
    teleop_stamped: bool = param(True, "Teleop inputs are TwistStamped (else Twist)")
    odom_frame: str = param("odom", "Frame plans must be in")
    base_frame: str = param("base_link", "frame_id of the published TwistStamped")
    stats_period_s: float = param(1.0, "How often to publish nav_r1/control_stats [s]", min=0.05, max=60.0)
    # Opt-in: 50 is what ros2_control's controller manager uses on a PREEMPT_RT robot computer.
    # Off by default because a busy executor thread at FIFO priority starves every other process
    # on a small machine (seen with 2 cores). Without CAP_SYS_NICE the node warns and runs on.
    realtime_priority: int = param(0, "SCHED_FIFO priority for the node's threads (0 = normal "
                                   "scheduling; needs CAP_SYS_NICE)", min=0, max=99)
    sim_sync: bool = param(False, "Lock-step with the simulator bridge (sim/tick, sim/ack) instead of the timer")
    reliable_sensors: bool = param(False, "Subscribe to depth with RELIABLE QoS (simulation lock-step)")
    gil_switch_interval_s: float = param(0.0005, "Python thread switch interval, bounding how long "
                                         "the depth thread can hold the GIL [s]", min=0.0001, max=0.01)

    def __post_init__(self) -> None:
        validate_params(self)


def _twist_from(msg: TwistMsg) -> Twist:
    return Twist(float(msg.linear.x), float(msg.linear.y), float(msg.linear.z), float(msg.angular.z))


class ControlNode(Node):
    """The fast loop: one :meth:`tick` per timer period, safety stops also from the depth thread."""

    def __init__(self) -> None:
        super().__init__("control_node")
        self.cfg = declare_config(self, ControlConfig)
        self.node_cfg = declare_config(self, ControlNodeConfig)
        sys.setswitchinterval(self.node_cfg.gil_switch_interval_s)
        set_realtime_priority(self, self.node_cfg.realtime_priority)
        self._lock = threading.Lock()
        # run_node's SingleThreadedExecutor (r1_core.ros.node_main.make_executor): the loop's and the
        # inputs' callbacks are all short. With SCHED_FIFO a MultiThreadedExecutor spun 65-80% of a
        # core on 30 Hz odometry alone (its dispatcher re-polls until a worker takes the message);
        # this way the node used 19% with odometry, plans and 640x480 depth at 30 Hz.
        self.executor_kind = "single"
        self.core = FastController(self.cfg)
        self._projector: DepthProjector | None = None
        self._early_depth: Image | None = None  # lock-step only: a frame that beat its camera_info
        self._cloud_rt = base_from_optical(self.cfg.depth)
        self._plans = 0
        self._last_state: tuple[Any, ...] | None = None
        self.stats = PeriodStats(self.cfg.period_s)
        self._last_stats = time.monotonic()

        msg_type = TwistStamped if self.cfg.output_stamped else TwistMsg
        self.cmd_pub = self.create_publisher(msg_type, "cmd_vel", RELIABLE_QOS)
        self.safety_pub = self.create_publisher(String, SAFETY_TOPIC, RELIABLE_QOS)
        self.stats_pub = self.create_publisher(String, STATS_TOPIC, RELIABLE_QOS)
        self.state_pub = self.create_publisher(String, STATE_TOPIC, RELIABLE_QOS)

        io = ReentrantCallbackGroup()
        self.create_subscription(OdometryMsg, "odom", self._on_odom, RELIABLE_QOS, callback_group=io)
        self.create_subscription(Path, PLAN_TOPIC, self._on_plan, RELIABLE_QOS, callback_group=io)
        teleop_type = TwistStamped if self.node_cfg.teleop_stamped else TwistMsg
        for name, topic in zip(self.cfg.mux.input_names, self.cfg.mux.input_topics, strict=True):
            self.create_subscription(teleop_type, topic, lambda m, n=name: self._on_teleop(n, m),
                                     RELIABLE_QOS, callback_group=io)
        for name, topic in zip(self.cfg.mux.lock_names, self.cfg.mux.lock_topics, strict=True):
            self.create_subscription(Bool, topic, lambda m, n=name: self._on_lock(n, m),
                                     RELIABLE_QOS, callback_group=io)
        # Obstacles run on a node and executor of their own, in their own thread: with SCHED_FIFO a
        # MultiThreadedExecutor spins a whole core while a 640x480 frame is being taken (measured:
        # 93% CPU vs 19% this way), which would starve the loop it shares threads with.
        self._sensing = rclpy.create_node(f"{self.get_name()}_sensing", namespace=self.get_namespace(),
                                          context=self.context, start_parameter_services=False)
        self._sensing_exec = SingleThreadedExecutor(context=self.context)
        self._sensing_exec.add_node(self._sensing)
        source = self.node_cfg.obstacle_source
        if source == "depth":
            self._sensing.create_subscription(CameraInfo, DEPTH_INFO_TOPIC, self._on_info,
                                              RELIABLE_QOS if self.node_cfg.reliable_sensors else SENSOR_QOS)
            self._sensing.create_subscription(Image, DEPTH_TOPIC, self._on_depth,
                                              RELIABLE_QOS if self.node_cfg.reliable_sensors else SENSOR_QOS)
        elif source == "pointcloud":
            self._sensing.create_subscription(PointCloud2, self.node_cfg.pointcloud_topic, self._on_cloud,
                                              SENSOR_QOS)
        elif self.cfg.timeouts.obstacles_s > 0.0:
            self.get_logger().warning("obstacle_source is none but timeouts.obstacles_s > 0: the robot will "
                                      "not move; set timeouts.obstacles_s to 0 to run without obstacle data")
        # Lock-step: plans are held until the tick that announces them, so that which tick first
        # uses a plan never depends on DDS timing (see r1_core.ros.sim_sync).
        self._sync: SyncParticipant | None = None
        self._held_plans: list[Plan] = []
        self._plan_release = -math.inf
        if self.node_cfg.sim_sync:
            self.executor_kind = "single"  # sequential anyway in lock-step; far cheaper than the multi-threaded one
            self._sync = SyncParticipant(self, "control_node", watch=["odom", DEPTH_TOPIC, PLAN_TOPIC],
                                         on_tick=self._on_sync_tick, publishes=["cmd_vel"])
        else:
            self.timer = self.create_timer(self.cfg.period_s, self._on_timer,
                                           callback_group=MutuallyExclusiveCallbackGroup())
        self.get_logger().info(f"control loop at {self.cfg.rate_hz:g} Hz, profile '{self.cfg.profile}', "
                               f"obstacles from '{source}', cmd_vel as {msg_type.__name__}")
        # Started from this thread, so it inherits its scheduling (SCHED_FIFO when set above).
        self._sensing_thread = threading.Thread(target=self._spin_sensing, name="sensing", daemon=True)
        self._sensing_thread.start()

    # ---- the loop -----------------------------------------------------------------------
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_timer(self) -> None:
        self.stats.tick(time.perf_counter())
        self.tick(self._now())

    def _on_sync_tick(self, seq: int, t: float) -> dict[str, float]:
        assert self._sync is not None
        self._plan_release = max(self._plan_release, self._sync.expect.get(PLAN_TOPIC, -math.inf))
        with self._lock:
            due = [p for p in self._held_plans if p.stamp <= self._plan_release + 1e-9]
            self._held_plans = [p for p in self._held_plans if p.stamp > self._plan_release + 1e-9]
            for plan in due:
                self._apply_plan(plan, t)
        self.stats.tick(time.perf_counter())
        self.tick(t)
        return {"cmd_vel": t}

    def tick(self, now_s: float) -> ControlOutput:
        """One loop iteration at time ``now_s``: step the core and publish (the timer calls this)."""
        t0 = time.perf_counter()
        with self._lock:
            out = self.core.step(now_s)
        self._publish(out, now_s)
        self.stats.cost(time.perf_counter() - t0)
        if time.monotonic() - self._last_stats >= self.node_cfg.stats_period_s:
            self._last_stats = time.monotonic()
            self.stats_pub.publish(String(data=json.dumps(self.stats.flush())))
        return out

    def _publish(self, out: ControlOutput, now_s: float) -> None:
        t = out.twist
        if self.cfg.output_stamped:
            msg = TwistStamped()
            msg.header.stamp = sec_to_stamp(max(now_s, 0.0))
            msg.header.frame_id = self.node_cfg.base_frame
            body = msg.twist
        else:
            msg = body = TwistMsg()
        body.linear.x, body.linear.y, body.linear.z = t.vx, t.vy, t.vz
        body.angular.z = t.wz
        self.cmd_pub.publish(msg)
        for e in out.events:
            self.safety_pub.publish(String(data=json.dumps(e.to_dict())))
        p = out.progress
        state = (out.source, out.state, p.plan_id, p.segment, p.done)
        if state != self._last_state:
            self._last_state = state
            self.state_pub.publish(String(data=json.dumps({
                "stamp": now_s, "source": out.source, "state": out.state, "plan_id": p.plan_id,
                "segment": p.segment, "segments": p.segments, "done": p.done, "mode": p.mode,
            })))

    # ---- inputs -------------------------------------------------------------------------
    def _on_odom(self, msg: OdometryMsg) -> None:
        p, tw = msg.pose.pose, msg.twist.twist
        try:
            odom = Odometry(stamp_to_sec(msg.header.stamp),
                            Pose2D(p.position.x, p.position.y, quaternion_to_yaw(p.orientation), p.position.z),
                            _twist_from(tw))
        except ValueError as exc:
            self.get_logger().error(f"dropped odometry: {exc}", throttle_duration_sec=5.0)
            return
        now = odom.stamp if self._sync is not None else self._now()
        with self._lock:
            self.core.on_odom(odom, now)
        if self._sync is not None:
            self._sync.received("odom", odom.stamp)

    def _on_plan(self, msg: Path) -> None:
        frame = msg.header.frame_id
        if frame and frame != self.node_cfg.odom_frame:
            self.get_logger().error(f"dropped a plan in frame '{frame}', expected '{self.node_cfg.odom_frame}'",
                                    throttle_duration_sec=5.0)
            return
        try:
            poses = tuple(Pose2D(ps.pose.position.x, ps.pose.position.y, quaternion_to_yaw(ps.pose.orientation),
                                 ps.pose.position.z) for ps in msg.poses)
        except ValueError as exc:
            self.get_logger().error(f"dropped a plan: {exc}", throttle_duration_sec=5.0)
            return
        plan = Plan(stamp_to_sec(msg.header.stamp), poses, 0)
        if self._sync is not None:
            with self._lock:
                self._held_plans.append(plan)
            self._sync.received(PLAN_TOPIC, plan.stamp)
            return
        now = self._now()
        with self._lock:
            self._apply_plan(plan, now)

    def _apply_plan(self, plan: Plan, now: float) -> None:
        """Give a plan to the core (caller holds the lock); ids count the plans that were new."""
        if self.core.on_plan(Plan(plan.stamp, plan.poses, self._plans + 1), now):
            self._plans += 1

    def _on_teleop(self, name: str, msg: Any) -> None:
        body = msg.twist if isinstance(msg, TwistStamped) else msg
        try:
            twist = _twist_from(body)
        except ValueError as exc:
            self.get_logger().error(f"dropped {name}: {exc}", throttle_duration_sec=5.0)
            return
        now = self._now()
        with self._lock:
            self.core.on_teleop(name, twist, now)

    def _on_lock(self, name: str, msg: Bool) -> None:
        now = self._now()
        with self._lock:
            self.core.on_lock(name, bool(msg.data), now)
            engaged = self.core.mux.select(now).lock is not None
        if engaged:
            # Zero at once, not at the next tick.
            self.tick(now)

    def _on_info(self, msg: CameraInfo) -> None:
        try:
            self._projector = projector_for_info(self._projector, msg, self.cfg.depth)
        except (ConversionError, ValueError) as exc:
            self.get_logger().error(f"bad camera_info: {exc}", throttle_duration_sec=5.0)
            return
        early, self._early_depth = self._early_depth, None
        if early is not None:
            self._on_depth(early)

    def _on_depth(self, msg: Image) -> None:
        projector = self._projector
        if projector is None:
            if self._sync is not None:
                # Lock-step: the frame's camera_info is on its way (same tick); use the frame then,
                # so whether it was used never depends on which of the two arrived first.
                self._early_depth = msg
                return
            self.get_logger().warning("no camera_info yet: depth dropped", throttle_duration_sec=5.0)
            return
        stamp = stamp_to_sec(msg.header.stamp)
        try:
            points = projector.points(depth_image_to_metres(msg), roi=self.core.zones.box)
            self._obstacles(points, stamp, filtered=True)
        except (ConversionError, ValueError) as exc:
            self.get_logger().error(f"dropped a depth frame: {exc}", throttle_duration_sec=5.0)
        finally:
            if self._sync is not None:  # used or refused, the tick must not wait for it
                self._sync.received(DEPTH_TOPIC, stamp)

    def _on_cloud(self, msg: PointCloud2) -> None:
        try:
            points = cloud_to_xyz(msg)
        except ConversionError as exc:
            self.get_logger().error(f"dropped a point cloud: {exc}", throttle_duration_sec=5.0)
            return
        if self.node_cfg.pointcloud_frame == "camera_optical":
            rot, t = self._cloud_rt
            points = points @ rot.T + t
        self._obstacles(points, stamp_to_sec(msg.header.stamp))

    def _obstacles(self, points: NDArray[np.float32], stamp: float, filtered: bool = False) -> None:
        t0 = time.perf_counter()
        verdict = self.core.evaluate_obstacles(points, filtered=filtered)  # pure: outside the lock
        now = stamp if self._sync is not None else self._now()
        with self._lock:
            out = self.core.apply_obstacles(verdict, stamp, now)
        if out is not None:
            self._publish(out, now)
        self.stats.obstacle_cost(time.perf_counter() - t0)

    # ---- helpers ------------------------------------------------------------------------
    def _spin_sensing(self) -> None:
        with contextlib.suppress(ExternalShutdownException):
            self._sensing_exec.spin()

    def close(self) -> None:
        """Stop the sensing thread, publish a final zero command, destroy the sensing node.

        ``run_node`` calls this after the loop's executor has stopped and its timers are
        cancelled, while the context is still valid: nothing publishes after the zero.
        """
        self._sensing_exec.shutdown(timeout_sec=2.0)
        self._sensing_thread.join(timeout=2.0)
        self._publish_zero()
        self._sensing.destroy_node()

    def _publish_zero(self) -> None:
        """Publish one zero command and wait (briefly) until reliable subscribers have it."""
        if self.cfg.output_stamped:
            msg = TwistStamped()
            msg.header.stamp = sec_to_stamp(max(self._now(), 0.0))
            msg.header.frame_id = self.node_cfg.base_frame
        else:
            msg = TwistMsg()
        self.cmd_pub.publish(msg)
        self.cmd_pub.wait_for_all_acked(Duration(seconds=0.5))


def main(args: Sequence[str] | None = None) -> int:
    """Console script ``control_node``."""
    return run_node(ControlNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
