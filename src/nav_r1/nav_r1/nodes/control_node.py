"""The fast control node: plan, odometry, depth and teleop in; ``cmd_vel`` at 100 Hz out.

A thin shell around :class:`~nav_r1.control.controller.FastController`: every message goes through
:class:`~nav_r1.control.inputs.ControlInputs` (the same input layer the offline replay runs), and
the node only subscribes, publishes and logs. It never loads a model: the reasoning node runs in
its own process.

One node, two threads:

- the executor thread of ``r1_core.ros.node_main.run_node`` (a SingleThreadedExecutor, asked for
  with ``executor_kind``) runs the loop timer (:meth:`ControlNode.tick`) and the short inputs:
  odometry, teleop, locks (microseconds each);
- the ``sensing`` thread spins a second SingleThreadedExecutor that runs only the node's
  ``sensing`` callback group: depth images / point clouds and plans. Projection, the zone check
  and plan conversion happen there, so neither a 640x480 frame nor a 2,000-pose plan delays the
  timer; a plan is taken serialised and refused from its length field when it is over
  ``inputs.max_plan_poses``, before any pose becomes a Python object. A newly triggered stop
  zone publishes zero from that thread at once instead of waiting for the next tick.

In lock-step (``sim_sync``) there is no timer: :meth:`ControlNode.tick` runs from
``SyncParticipant`` in whichever thread delivers the tick's last awaited input -- the executor
thread (odometry, the ``sim/tick`` message) or the sensing thread (a depth frame or a plan).

rclpy has no ``Executor.add_callback_group`` (rclcpp does), so the sensing group is a
:class:`ThreadBoundCallbackGroup` that only its own thread may run, and the sensing executor only
waits on that group. One node means one name in the graph whatever ``__node`` remap is given.

``_lock`` (inside the input layer) guards the controller, the one owner of control state; each
holder keeps it for microseconds. The loop statistics have their own lock. A tick that raises
publishes zero, is logged (throttled) and the loop runs on. With ``realtime_priority`` > 0
(opt-in; 50 is ros2_control's choice) every thread of the node runs SCHED_FIFO, so a busy
reasoning process on the same cores cannot delay the loop (bench/bench_control.py measures both).
The GIL is still shared, so the node shortens Python's switch interval (``gil_switch_interval_s``):
a busy sensing thread cannot hold the timer for 5 ms.
"""

from __future__ import annotations

import json
import math
import re
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from geometry_msgs.msg import Twist as TwistMsg
from geometry_msgs.msg import TwistStamped
from nav_msgs.msg import Odometry as OdometryMsg
from nav_msgs.msg import Path
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Bool, String

from nav_r1.control import ControlConfig, ControlOutput, FastController
from nav_r1.control.inputs import (
    ControlInputs,
    FreeRun,
    LockStep,
    ObstacleSource,
    Pacing,
    path_length_cdr,
)
from nav_r1.control.stats import PeriodStats
from nav_r1.control.visibility import visibility_report
from r1_core import topics
from r1_core.params import param, validate_params
from r1_core.ros.convert import ConversionError, sec_to_stamp
from r1_core.ros.node_main import run_node, set_realtime_priority
from r1_core.ros.params import declare_config
from r1_core.ros.qos import RELIABLE_QOS, SENSOR_QOS
from r1_core.ros.sim_sync import SyncParticipant

_REFUSED = (ValueError, ConversionError, LookupError, AttributeError, TypeError)
_REFUSAL_LOG_PERIOD_S = 5.0
_NUMBERS = re.compile(r"[-+]?\d+(\.\d+)?(e[-+]?\d+)?")


class ThreadBoundCallbackGroup(MutuallyExclusiveCallbackGroup):
    """A callback group that only the thread which called :meth:`bind` may run.

    Every other executor sees its entities as not executable, so it never waits on them.
    """

    def __init__(self) -> None:
        super().__init__()
        self._owner: int | None = None

    def bind(self) -> None:
        """Make the calling thread the only one that runs this group."""
        self._owner = threading.get_ident()

    def can_execute(self, entity: Any) -> bool:
        return threading.get_ident() == self._owner and super().can_execute(entity)


class _GroupExecutor(SingleThreadedExecutor):
    """A SingleThreadedExecutor that runs one callback group of one node.

    The node is not added with ``add_node``: rclpy's ``Node.executor`` setter would take it away
    from the executor that runs the rest of the node (run_node's).
    """

    def __init__(self, node: Node, group: ThreadBoundCallbackGroup) -> None:
        super().__init__(context=node.context)
        self._node, self._group = node, group

    def get_nodes(self) -> list[Node]:
        return [self._node]

    def can_execute(self, entity: Any) -> bool:
        return entity.callback_group is self._group and super().can_execute(entity)


@dataclass(frozen=True)
class ControlNodeConfig:
    """Parameters of the node itself (the control ones are in ControlConfig)."""

    obstacle_source: str = param("depth", "Obstacles from a depth image, a PointCloud2, or none",
                                 choices=("depth", "pointcloud", "none"))
    pointcloud_topic: str = param(topics.STEREO_POINTS, "PointCloud2 topic when obstacle_source is pointcloud")
    pointcloud_frame: str = param("camera_optical", "Frame of the cloud's points: the depth camera's "
                                  "optical frame (uses depth.base_T_camera) or base_link",
                                  choices=("camera_optical", "base_link"))
    teleop_stamped: bool = param(True, "Teleop inputs are TwistStamped (else Twist)")
    odom_frame: str = param("odom", "Frame plans must be in")
    base_frame: str = param("base_link", "frame_id of the published TwistStamped")
    stats_period_s: float = param(1.0, f"How often to publish {topics.CONTROL_STATS} [s]", min=0.05, max=60.0)
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


class ControlNode(Node):
    """The fast loop: one :meth:`tick` per timer period, safety stops also from the sensing thread."""

    def __init__(self) -> None:
        super().__init__("control_node")
        self.cfg = declare_config(self, ControlConfig)
        self.node_cfg = declare_config(self, ControlNodeConfig)
        sys.setswitchinterval(self.node_cfg.gil_switch_interval_s)
        set_realtime_priority(self, self.node_cfg.realtime_priority)
        # run_node's SingleThreadedExecutor (r1_core.ros.node_main.make_executor): the loop's and the
        # short inputs' callbacks. With SCHED_FIFO a MultiThreadedExecutor spun 65-80% of a core on
        # 30 Hz odometry alone (its dispatcher re-polls until a worker takes the message).
        self.executor_kind = "single"
        self.core = FastController(self.cfg)
        source_kind = self.node_cfg.obstacle_source
        self.source = (ObstacleSource(self.cfg, source_kind, self.node_cfg.pointcloud_frame)
                       if source_kind != "none" else None)
        self._sync: SyncParticipant | None = None
        pacing: Pacing = FreeRun()
        if self.node_cfg.sim_sync:
            pacing = LockStep(lambda topic, stamp: self._sync.received(topic, stamp) if self._sync else None)
        self.inputs = ControlInputs(self.core, odom_frame=self.node_cfg.odom_frame, source=self.source,
                                    pacing=pacing, lock=threading.Lock())
        self._last_state: tuple[Any, ...] | None = None
        self.stats = PeriodStats(self.cfg.period_s)
        self._last_stats = time.monotonic()
        self.tick_errors = 0
        self._refusals: dict[str, tuple[float, int]] = {}  # log throttle: kind -> (last report, hidden since)
        self._refusals_lock = threading.Lock()  # refusals come from both threads

        self._create_publishers()
        self._subscribe_short_inputs()
        self._sensing_group = ThreadBoundCallbackGroup()
        self._subscribe_sensing(source_kind)
        if self.node_cfg.sim_sync:
            self._sync = SyncParticipant(self, "control_node", watch=[topics.ODOM, topics.DEPTH_IMAGE, topics.PLAN],
                                         on_tick=self._on_sync_tick, publishes=[topics.CMD_VEL])
        else:
            self.timer = self.create_timer(self.cfg.period_s, self._on_timer)
        self._log_start(source_kind)
        self._sensing_exec = _GroupExecutor(self, self._sensing_group)
        # Started from this thread, so it inherits its scheduling (SCHED_FIFO when set above).
        self._sensing_thread = threading.Thread(target=self._spin_sensing, name="sensing", daemon=True)
        self._sensing_thread.start()

    def _create_publishers(self) -> None:
        msg_type = TwistStamped if self.cfg.output_stamped else TwistMsg
        self.cmd_pub = self.create_publisher(msg_type, topics.CMD_VEL, RELIABLE_QOS)
        self.safety_pub = self.create_publisher(String, topics.SAFETY, RELIABLE_QOS)
        self.stats_pub = self.create_publisher(String, topics.CONTROL_STATS, RELIABLE_QOS)
        self.state_pub = self.create_publisher(String, topics.CONTROL_STATE, RELIABLE_QOS)

    def _subscribe_short_inputs(self) -> None:
        """Odometry, teleop and locks: the default group, on the loop's executor."""
        self.create_subscription(OdometryMsg, topics.ODOM, self._on_odom, RELIABLE_QOS)
        teleop_type = TwistStamped if self.node_cfg.teleop_stamped else TwistMsg
        for name, topic in zip(self.cfg.mux.input_names, self.cfg.mux.input_topics, strict=True):
            self.create_subscription(teleop_type, topic, lambda m, n=name: self._on_teleop(n, m), RELIABLE_QOS)
        for name, topic in zip(self.cfg.mux.lock_names, self.cfg.mux.lock_topics, strict=True):
            self.create_subscription(Bool, topic, lambda m, n=name: self._on_lock(n, m), RELIABLE_QOS)

    def _subscribe_sensing(self, source_kind: str) -> None:
        """Plans and obstacle data: the sensing group, on the sensing thread's executor.

        With SCHED_FIFO a MultiThreadedExecutor spins a whole core while a 640x480 frame is being
        taken (measured: 93% CPU vs 19% this way), which would starve the loop it shares threads with.
        """
        sensing = self._sensing_group
        # Serialised: the size cap is checked on the length field before any pose is converted.
        self.create_subscription(Path, topics.PLAN, self._on_plan, RELIABLE_QOS, callback_group=sensing, raw=True)
        sensor_qos = RELIABLE_QOS if self.node_cfg.reliable_sensors else SENSOR_QOS
        if source_kind == "depth":
            self.create_subscription(CameraInfo, topics.DEPTH_INFO, self._on_info, sensor_qos,
                                     callback_group=sensing)
            self.create_subscription(Image, topics.DEPTH_IMAGE, self._on_depth, sensor_qos, callback_group=sensing)
        elif source_kind == "pointcloud":
            self.create_subscription(PointCloud2, self.node_cfg.pointcloud_topic, self._on_cloud, SENSOR_QOS,
                                     callback_group=sensing)
        elif self.cfg.timeouts.obstacles_s > 0.0:
            self.get_logger().warning("obstacle_source is none but timeouts.obstacles_s > 0: the robot will "
                                      "not move; set timeouts.obstacles_s to 0 to run without obstacle data")

    def _log_start(self, source_kind: str) -> None:
        msg_type = TwistStamped if self.cfg.output_stamped else TwistMsg
        self.get_logger().info(f"control loop at {self.cfg.rate_hz:g} Hz, profile '{self.cfg.profile}', "
                               f"obstacles from '{source_kind}', cmd_vel as {msg_type.__name__}")
        if source_kind == "depth":
            report = visibility_report(self.cfg)
            self.get_logger().info("visibility: " + "; ".join(report.lines()[: len(report.zones) + 1]))
            for warning in report.warnings:
                self.get_logger().warning(warning)

    # ---- the loop -----------------------------------------------------------------------
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_timer(self) -> None:
        self.stats.tick(time.perf_counter())
        self.tick(self._now())

    def _on_sync_tick(self, seq: int, t: float) -> dict[str, float]:
        assert self._sync is not None
        self.stats.tick(time.perf_counter())
        self.tick(t, self._sync.expect.get(topics.PLAN, float("-inf")))
        return {topics.CMD_VEL: t}

    def tick(self, now_s: float, release: float = float("-inf")) -> ControlOutput:
        """One loop iteration at time ``now_s``: step the core and publish (the timer calls this).

        Whatever goes wrong inside, this tick publishes zero and the loop runs on.
        """
        t0 = time.perf_counter()
        out = self.inputs.tick(now_s, release)
        if self.inputs.last_error:
            self.tick_errors += 1
            self.get_logger().error(f"control tick failed, published zero: {self.inputs.last_error}",
                                    throttle_duration_sec=5.0)
            self.inputs.last_error = ""
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
        state = (out.source, out.label, p.plan_id, p.segment, p.done)
        if state != self._last_state:
            self._last_state = state
            self.state_pub.publish(String(data=json.dumps({
                "stamp": now_s, "source": out.source, "state": out.label, "plan_id": p.plan_id,
                "segment": p.segment, "segments": p.segments, "done": p.done, "mode": p.mode,
            })))

    # ---- inputs (each refuses a bad message with a throttled log line; none can stop the loop) ----
    def _refused(self, what: str, exc: BaseException) -> None:
        """Log a refused message, throttled per kind of refusal (a flood of one kind hides no other)."""
        text = f"dropped {what}: {exc}"
        key = _NUMBERS.sub("#", text)
        now = time.monotonic()
        with self._refusals_lock:
            last, hidden = self._refusals.get(key, (-math.inf, 0))
            if now - last < _REFUSAL_LOG_PERIOD_S:
                self._refusals[key] = (last, hidden + 1)
                return
            if len(self._refusals) > 256:  # many kinds: forget the old ones
                self._refusals.clear()
            self._refusals[key] = (now, 0)
        self.get_logger().error(text + (f" ({hidden} more like it since the last report)" if hidden else ""))

    def _on_odom(self, msg: OdometryMsg) -> None:
        try:
            self.inputs.odometry(msg, self._now())
        except _REFUSED as exc:
            self._refused("odometry", exc)

    def _on_plan(self, data: bytes) -> None:
        try:
            count = path_length_cdr(data)
            if count is not None:
                self.inputs.plan_size(count)
            msg = deserialize_message(data, Path)
            self.inputs.plan(msg, self._now())
        except _REFUSED as exc:
            self._refused("a plan", exc)

    def _on_teleop(self, name: str, msg: Any) -> None:
        try:
            self.inputs.teleop(name, msg, self._now())
        except _REFUSED as exc:
            self._refused(name, exc)

    def _on_lock(self, name: str, msg: Bool) -> None:
        now = self._now()
        if self.inputs.lock_input(name, bool(msg.data), now):
            self.tick(now)  # zero at once, not at the next tick

    def _on_info(self, msg: CameraInfo) -> None:
        try:
            self._immediate(self.inputs.camera_info(msg, self._now()))
        except _REFUSED as exc:
            self._refused("camera_info", exc)

    def _on_depth(self, msg: Image) -> None:
        t0 = time.perf_counter()
        try:
            self._immediate(self.inputs.depth(msg, self._now()))
        except LookupError as exc:
            self.get_logger().warning(str(exc), throttle_duration_sec=5.0)
        except _REFUSED as exc:
            self._refused("a depth frame", exc)
        self.stats.obstacle_cost(time.perf_counter() - t0)

    def _on_cloud(self, msg: PointCloud2) -> None:
        t0 = time.perf_counter()
        try:
            self._immediate(self.inputs.cloud(msg, self._now()))
        except _REFUSED as exc:
            self._refused("a point cloud", exc)
        self.stats.obstacle_cost(time.perf_counter() - t0)

    def _immediate(self, out: ControlOutput | None) -> None:
        """Publish a stop that the sensing thread triggered (stamped with the frame in lock-step)."""
        if out is not None:
            self._publish(out, out.events[-1].stamp if self._sync is not None and out.events else self._now())

    # ---- helpers ------------------------------------------------------------------------
    def _spin_sensing(self) -> None:
        self._sensing_group.bind()
        while True:
            try:
                self._sensing_exec.spin()  # returns once the executor is shut down
                return
            except ExternalShutdownException:
                return
            except Exception as exc:  # a sensing callback bug must not silence obstacles and plans for good
                self.get_logger().error(f"sensing callback failed: {type(exc).__name__}: {exc}",
                                        throttle_duration_sec=5.0)

    def close(self) -> None:
        """Stop the sensing thread, publish a final zero command.

        ``run_node`` calls this after the loop's executor has stopped and its timers are
        cancelled, while the context is still valid: nothing publishes after the zero.
        """
        self._sensing_exec.shutdown(timeout_sec=2.0)
        self._sensing_thread.join(timeout=2.0)
        self._publish_zero()

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
