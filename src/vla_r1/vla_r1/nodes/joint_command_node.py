"""Joint-command node: streams ``arm_controller/joint_trajectory`` at the controller's rate.

In: ``arm_controller/joint_trajectory`` (trajectory_msgs/JointTrajectory), ``joint_states``, and the
same std_msgs/Bool locks as the base (``e_stop`` by default; twist_mux semantics: a lock engages
while its last value is true or, with a timeout > 0, while its publisher is silent).
Out: ``joint_commands`` (sensor_msgs/JointState: position and velocity set-points, one message per
period, for a position-controlled arm or a ros2_control forward command bridge).

An engaged lock holds the measured position at once (published from the lock's callback, not at
the next tick), drops the running trajectory and refuses new ones until released.

Threads: the timer runs alone in a MutuallyExclusive group; subscriptions run in a Reentrant group
and only store values.  ``_lock`` guards the streamer and the latest joint state.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool
from trajectory_msgs.msg import JointTrajectory

from r1_core import topics
from r1_core.params import ParamError, param, validate_params
from r1_core.ros.node_main import run_node
from r1_core.ros.params import declare_config
from r1_core.ros.qos import RELIABLE_QOS
from vla_r1.kinematics import ARM_JOINTS, GRIPPER_JOINT
from vla_r1.nodes.convert import msg_to_trajectory
from vla_r1.streaming import TrajectoryStreamer

TRAJECTORY_TOPIC = topics.ARM_TRAJECTORY


@dataclass(frozen=True)
class JointCommandConfig:
    """Parameters of the joint-command node."""

    rate_hz: float = param(100.0, "Command rate, the arm controller's update rate [Hz]", min=1.0, max=1000.0)
    joint_names: tuple[str, ...] = param((*ARM_JOINTS, GRIPPER_JOINT), "Joints commanded, in output order")
    command_topic: str = param(topics.JOINT_COMMANDS, "Output topic (sensor_msgs/JointState set-points)")
    lock_topics: tuple[str, ...] = param((topics.E_STOP,), "std_msgs/Bool locks that hold the arm while engaged")
    # Per lock; 0 disables the timeout (engaged only by an explicit true).
    lock_timeouts: tuple[float, ...] = param((0.0,), "Silence after which a lock engages [s] (0: never)", min=0.0)
    max_start_error: float = param(
        0.15, "Refuse trajectories starting further than this from the joint state [rad or m]", min=0.0
    )
    state_timeout_s: float = param(0.5, "Joint states older than this are not used to hold [s]", min=0.01)

    def __post_init__(self) -> None:
        validate_params(self)
        if len(self.lock_timeouts) != len(self.lock_topics):
            raise ParamError("parameter 'lock_timeouts' must have one entry per lock_topics entry")
        if not self.joint_names or len(set(self.joint_names)) != len(self.joint_names):
            raise ParamError(f"parameter 'joint_names' must be non-empty and unique, got {list(self.joint_names)}")


class JointCommandNode(Node):
    """Streams trajectories as per-period joint set-points and obeys the locks."""

    #: Every callback is short; one thread also keeps lock handling ordered with the stream.
    executor_kind = "single"

    def __init__(self) -> None:
        super().__init__("joint_command_node")
        self.cfg = declare_config(self, JointCommandConfig)
        self._lock = threading.Lock()
        self.streamer = TrajectoryStreamer(self.cfg.joint_names, max_start_error=self.cfg.max_start_error)
        self._state: NDArray[np.float64] | None = None
        self._state_time = -math.inf
        self._locks = {t: False for t in self.cfg.lock_topics}
        self._lock_seen = {t: time.monotonic() for t in self.cfg.lock_topics}
        self.pub = self.create_publisher(JointState, self.cfg.command_topic, RELIABLE_QOS)
        io = ReentrantCallbackGroup()
        self.create_subscription(
            JointTrajectory, TRAJECTORY_TOPIC, self._on_trajectory, RELIABLE_QOS, callback_group=io
        )
        self.create_subscription(JointState, topics.JOINT_STATES, self._on_state, RELIABLE_QOS, callback_group=io)
        for topic in self.cfg.lock_topics:
            self.create_subscription(
                Bool, topic, lambda m, t=topic: self._on_lock(t, m), RELIABLE_QOS, callback_group=io
            )
        self.create_timer(1.0 / self.cfg.rate_hz, self._tick, callback_group=MutuallyExclusiveCallbackGroup())
        self.get_logger().info(f"streaming {list(self.cfg.joint_names)} at {self.cfg.rate_hz:g} Hz")

    def _current(self, now: float) -> NDArray[np.float64] | None:
        if self._state is None or now - self._state_time > self.cfg.state_timeout_s:
            return None
        return self._state

    def _on_state(self, msg: JointState) -> None:
        pos = dict(zip(msg.name, msg.position, strict=False))
        with self._lock:
            prev = self._state
            q = [pos.get(j, prev[i] if prev is not None else math.nan) for i, j in enumerate(self.cfg.joint_names)]
            arr = np.array(q, dtype=float)
            if not np.all(np.isfinite(arr)):
                return  # a partial first message; wait for all joints
            self._state, self._state_time = arr, time.monotonic()
            if not self.streamer.active and self.streamer.command(self._state_time) is None:
                self.streamer.hold(arr)

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        now = time.monotonic()
        with self._lock:
            current = self._current(now)
            try:
                traj = msg_to_trajectory(msg, self.cfg.joint_names, current)
            except ValueError as exc:
                self.get_logger().error(f"trajectory rejected: {exc}")
                return
            err = self.streamer.load(traj, now, current)
        if err:
            self.get_logger().error(f"trajectory rejected: {err}")
        else:
            self.get_logger().info(f"streaming a {traj.duration:.2f} s trajectory of {len(traj.times)} points")

    def _engaged(self, now: float) -> bool:
        for topic, timeout in zip(self.cfg.lock_topics, self.cfg.lock_timeouts, strict=True):
            if self._locks[topic] or (timeout > 0 and now - self._lock_seen[topic] > timeout):
                return True
        return False

    def _on_lock(self, topic: str, msg: Bool) -> None:
        now = time.monotonic()
        with self._lock:
            self._locks[topic] = bool(msg.data)
            self._lock_seen[topic] = now
            was = self.streamer.stopped
            self.streamer.set_stop(self._engaged(now), now, self._current(now))
            newly = self.streamer.stopped and not was
        if newly:
            self.get_logger().warning(f"lock '{topic}' engaged: holding position")
            self._tick()  # hold at once, not at the next period

    def _tick(self) -> None:
        now = time.monotonic()
        with self._lock:
            if self._engaged(now) != self.streamer.stopped:
                self.streamer.set_stop(self._engaged(now), now, self._current(now))
            cmd = self.streamer.command(now)
        if cmd is None:
            return
        msg = JointState()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.name = list(self.cfg.joint_names)
        msg.position = cmd.positions.tolist()
        msg.velocity = cmd.velocities.tolist()
        self.pub.publish(msg)


def main(args: Sequence[str] | None = None) -> int:
    """Console entry point."""
    return run_node(JointCommandNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
