"""The slow reasoning node: camera + odometry + instruction in, plan + status out.

Threads: the executor thread (a SingleThreadedExecutor, ``executor_kind``; so the callback
groups below never run two callbacks at once) runs the subscriptions, the timers and, in
lock-step, the simulator's ticks; one worker thread (``_Worker``) runs the model (``infer`` may
take seconds), the health probes and ``reset()``, one job at a time in submission order, so
``reset()`` for a new instruction never overlaps an ``infer()`` in flight. The reply callback is
not an executor callback: after ``infer`` the worker itself hands the reply to
:meth:`ReasoningNode._finish`, which publishes the plan and status, and in lock-step acks the tick,
from the worker thread. Both threads call the :class:`~nav_r1.reasoning.ReasoningCore` under
``_lock`` only (``_last_heartbeat``, a float both write, is outside it: a lost update only moves
the next heartbeat). No callback ever waits for the model: a new instruction is acknowledged at
once and the reply in flight is dropped when it arrives; the first inference for the new
instruction starts after that reply (one model call at a time).

With ``scene.enabled`` the node also answers scene questions (:mod:`nav_r1.nodes.scene_io`):
their model calls are jobs on the same worker (one model call at a time, one model in memory), and
a go-to question or a plan step drives the robot through :meth:`ReasoningNode._direct`, which
replaces the instruction's plan (the core drops the instruction), so ``nav_r1/plan`` has one
publisher; a new instruction cancels a plan run and takes the robot back.

No message content can end the node: a malformed frame, odometry with NaN or an unusable
quaternion is logged and dropped.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry, Path
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import String

from nav_r1.nodes.scene_io import SceneConfig, SceneInterface, scene_service
from nav_r1.reasoners import make_reasoner
from nav_r1.reasoning import Outcome, ReasoningConfig, ReasoningCore
from r1_core import topics
from r1_core.params import param, validate_params
from r1_core.reasoner import Frame, Observation, Pose2D, Reasoner, Response
from r1_core.reasoning_status import ReasoningState, ReasoningStatus, bounded_text
from r1_core.ros.convert import (
    ConversionError,
    depth_image_to_metres,
    quaternion_to_yaw,
    rgb_from_image,
    sec_to_stamp,
    stamp_to_sec,
    yaw_to_quaternion,
)
from r1_core.ros.node_main import run_node
from r1_core.ros.params import declare_config
from r1_core.ros.qos import RELIABLE_QOS, SENSOR_QOS
from r1_core.ros.sim_sync import SyncParticipant

#: Longest model reply written to the (debug) log.
LOG_TEXT_CHARS = 200_000


@dataclass(frozen=True)
class NodeConfig:
    """Parameters of the node itself (the reasoning ones are in ReasoningConfig)."""

    odom_frame: str = param("odom", "Frame of the published plan (the odometry frame)")
    use_depth: bool = param(False, "Subscribe to the aligned depth image and pass it to the model")
    decide_hz: float = param(10.0, "How often to check whether to start an inference [Hz]", min=0.5, max=200.0)
    reliable_sensors: bool = param(False, "Subscribe to cameras with RELIABLE QoS (simulation lock-step)")
    sim_sync: bool = param(False, "Lock-step with the simulator bridge (sim/tick, sim/ack)")

    def __post_init__(self) -> None:
        validate_params(self)


class _Worker:
    """One daemon thread running submitted jobs in order (the model, probes, ``reset()``).

    A daemon, unlike a ThreadPoolExecutor's thread, which the interpreter joins at exit: a
    reply still in flight when the node stops (a slow local model, a remote one up to its
    request deadline) must not hold the process past ``ros2 launch``'s SIGTERM escalation.
    """

    def __init__(self, name: str, on_error: Callable[[Exception], None]) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], object] | None] = queue.SimpleQueue()
        self._on_error = on_error
        self.closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], object]) -> None:
        """Queue ``job``; ignored once closed."""
        if not self.closed:
            self._jobs.put(job)

    def close(self, timeout_s: float = 0.5) -> None:
        """Run no further jobs; wait briefly for the current one, which is abandoned after that."""
        self.closed = True
        self._jobs.put(None)
        self._thread.join(timeout=timeout_s)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None and not self.closed:
            try:
                job()
            except Exception as exc:  # a failed job must not take the worker (and the node's brain) with it
                self._on_error(exc)


class ReasoningNode(Node):
    """Runs a Reasoner off the executor thread and publishes its plans."""

    #: Callbacks are short (the model runs in the worker): a single-threaded executor.
    executor_kind = "single"

    def __init__(self, reasoner: Reasoner | None = None, **kwargs: Any) -> None:
        super().__init__("reasoning_node", **kwargs)
        self.cfg = declare_config(self, ReasoningConfig)
        self.node_cfg = declare_config(self, NodeConfig)
        self._lock = threading.Lock()
        self.core = ReasoningCore(self.cfg)
        self.reasoner = reasoner if reasoner is not None else make_reasoner(self.cfg)
        self._worker = _Worker("reasoner", self._job_failed)
        self._last_heartbeat = -math.inf
        self._depth: Any = None
        sensors = RELIABLE_QOS if self.node_cfg.reliable_sensors else SENSOR_QOS
        io = ReentrantCallbackGroup()
        self.plan_pub = self.create_publisher(Path, topics.PLAN, RELIABLE_QOS)
        self.status_pub = self.create_publisher(String, topics.STATUS, RELIABLE_QOS)
        self.scene_cfg = declare_config(self, SceneConfig, "scene.")
        self.scene: SceneInterface | None = None  # set below; its sensors are forwarded from here
        self.create_subscription(Image, topics.COLOR_IMAGE, self._on_color, sensors, callback_group=io)
        if self.node_cfg.use_depth or self.scene_cfg.enabled:
            self.create_subscription(Image, topics.DEPTH_IMAGE, self._on_depth, sensors, callback_group=io)
        self.create_subscription(Odometry, topics.ODOM, self._on_odom, RELIABLE_QOS, callback_group=io)
        self.create_subscription(String, topics.INSTRUCTION, self._on_instruction, RELIABLE_QOS, callback_group=io)
        self._sync: SyncParticipant | None = None
        if self.node_cfg.sim_sync:
            # Decisions are taken on camera ticks only (10 Hz), as the timer does in real time.
            self._sync = SyncParticipant(self, "reasoning_node", watch=[topics.COLOR_IMAGE, topics.ODOM],
                                         on_tick=self._on_tick, trigger=topics.COLOR_IMAGE,
                                         publishes=[topics.PLAN, topics.STATUS])
        else:
            self.create_timer(1.0 / self.node_cfg.decide_hz, self._on_timer,
                              callback_group=MutuallyExclusiveCallbackGroup())
            if self.cfg.health_period_s > 0.0 and callable(getattr(self.reasoner, "health", None)):
                self.create_timer(self.cfg.health_period_s, self._on_health_timer,
                                  callback_group=MutuallyExclusiveCallbackGroup())
        if self.scene_cfg.enabled:
            self.scene = SceneInterface(self, self.scene_cfg, scene_service(self.scene_cfg, self.reasoner),
                                        self.node_cfg.odom_frame, self._worker.submit, self._direct)
        self.get_logger().info(f"reasoning with '{self.reasoner.name}' (backend '{self.cfg.backend}')")

    def _job_failed(self, exc: Exception) -> None:
        self.get_logger().error(f"reasoner job failed: {type(exc).__name__}: {exc}", throttle_duration_sec=5.0)

    # ---- inputs -------------------------------------------------------------------------
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_instruction(self, msg: String) -> None:
        with self._lock:
            accepted = self.core.set_instruction(msg.data, self._now())
        if not accepted:
            self.get_logger().warning("ignored a blank instruction")
            return
        if self.scene is not None:
            self.scene.cancel("superseded by a new instruction")
        # On the worker, after any infer() in flight: the reasoner is never reset mid-call.
        self._worker.submit(self.reasoner.reset)
        self.get_logger().info(f"new instruction: {msg.data.strip()!r}")
        with self._lock:
            status = self.core.instructed(self._now())
        self._publish_status(status)

    def _on_color(self, msg: Image) -> None:
        stamp = stamp_to_sec(msg.header.stamp)
        try:
            rgb = rgb_from_image(msg)
            depth = self._depth if self._depth is not None and self._depth.shape == rgb.shape[:2] else None
            frame = Frame(rgb=rgb, depth=depth, stamp=stamp)
        except (ConversionError, ValueError) as exc:
            self.get_logger().error(f"dropped a colour frame: {exc}", throttle_duration_sec=5.0)
            return
        with self._lock:
            self.core.on_frame(frame)
        if self.scene is not None:
            self.scene.on_color(stamp, rgb)
        if self._sync is not None:
            self._sync.received(topics.COLOR_IMAGE, stamp)

    def _on_depth(self, msg: Image) -> None:
        if self.scene is not None:
            self.scene.on_depth(msg)
        if not self.node_cfg.use_depth:
            return
        try:
            self._depth = depth_image_to_metres(msg)
        except ConversionError as exc:
            self.get_logger().error(f"dropped a depth frame: {exc}", throttle_duration_sec=5.0)

    def _on_odom(self, msg: Odometry) -> None:
        if self.scene is not None:
            self.scene.on_odom(msg)
        p, t = msg.pose.pose, msg.twist.twist
        stamp = stamp_to_sec(msg.header.stamp)
        try:
            pose = Pose2D(x=p.position.x, y=p.position.y, yaw=quaternion_to_yaw(p.orientation), z=p.position.z)
            speed = max(math.hypot(t.linear.x, t.linear.y), abs(t.linear.z), abs(t.angular.z))
            if not math.isfinite(speed):
                raise ValueError(f"twist is not finite (speed {speed})")
        except (ValueError, ConversionError) as exc:
            self.get_logger().error(f"dropped odometry: {exc}", throttle_duration_sec=5.0)
            return
        with self._lock:
            self.core.on_odom(pose, speed, stamp)
        if self._sync is not None:
            self._sync.received(topics.ODOM, stamp)

    # ---- deciding and inferring ---------------------------------------------------------
    def _on_timer(self) -> None:
        now = self._now()
        obs = self._maybe_start(now)
        if obs is not None:
            self._submit(obs, None)
        self._maybe_heartbeat(now)

    def _on_health_timer(self) -> None:
        with self._lock:
            if not self.core.begin_probe():
                return  # the reply in flight tells us soon enough

        def probe() -> None:
            try:
                problem = self.reasoner.health()  # type: ignore[attr-defined]
            except Exception as exc:  # a probe must never kill the node
                problem = f"health probe failed: {exc}"
            now = self._now()
            with self._lock:
                outcome = self.core.end_probe(problem, now)
            if outcome is not None:
                if outcome.publish_plan:
                    self.get_logger().warning(f"holding: {problem}")
                else:
                    self.get_logger().info("model server answers again: resuming")
                self._publish_outcome(outcome, now)

        self._worker.submit(probe)

    def _on_tick(self, seq: int, t: float) -> Mapping[str, float] | None:
        obs = self._maybe_start(t)
        if obs is None:
            return self._maybe_heartbeat(t)
        self._submit(obs, (seq, t))
        return None

    def _submit(self, obs: Observation, tick: tuple[int, float] | None) -> None:
        def job() -> None:  # on the worker thread: infer, then publish the outcome from there
            self._finish(obs, self._infer(obs), tick)

        self._worker.submit(job)

    def _maybe_start(self, now: float) -> Observation | None:
        with self._lock:
            if self.core.blocked_reason(now) is not None:
                return None
            return self.core.observe(now)

    def _infer(self, obs: Observation) -> Response:
        t0 = time.perf_counter()
        try:
            response = self.reasoner.infer(obs)
        except Exception as exc:  # a backend bug must not kill the node: report it as a failed reply
            response = Response.failure(self.reasoner.name, f"{type(exc).__name__}: {exc}")
        timings = dict(response.timings)
        timings.setdefault("total", time.perf_counter() - t0)
        return Response(response.text, response.model, timings, response.error)

    def _finish(self, obs: Observation, response: Response, tick: tuple[int, float] | None) -> None:
        if self._worker.closed:
            return  # the node is closing: a late reply is discarded
        now = tick[1] if tick is not None else self._now()
        with self._lock:
            outcome = self.core.on_reply(obs, response, now)
        published: dict[str, float] = {}
        if outcome is not None:
            published = self._publish_outcome(outcome, now)
        if tick is not None and self._sync is not None:
            self._sync.ack(tick[0], published)

    # ---- outputs ------------------------------------------------------------------------
    def _publish_outcome(self, outcome: Outcome, now: float) -> dict[str, float]:
        published: dict[str, float] = {}
        status = outcome.status
        if outcome.publish_plan:
            obs_stamp = status.obs_stamp if status.obs_stamp is not None else now
            self._publish_plan(outcome.poses, obs_stamp)
            published[topics.PLAN] = obs_stamp
            self._last_heartbeat = now
        if status.state is ReasoningState.FAILED:
            self.get_logger().warning(f"reply failed: {status.error}", throttle_duration_sec=2.0)
        elif status.state in (ReasoningState.PLANNED, ReasoningState.STOPPED):
            self.get_logger().info(f"plan {outcome.plan_id}: {list(status.actions)}")
        if status.raw:
            # The whole reply for the log (bounded far more loosely than the status).
            self.get_logger().debug(f"reply: {bounded_text(status.raw, LOG_TEXT_CHARS)}")
        self._publish_status(status.stamped(now))
        published[topics.STATUS] = now
        return published

    def _direct(self, label: str, poses: tuple[Pose2D, ...]) -> None:
        """A scene goal or plan step (empty: hold) replaces the instruction's plan; any thread."""
        now = self._now()
        with self._lock:
            outcome = self.core.direct(label, poses, now)
        self.get_logger().info(f"directed plan {outcome.plan_id} for {label!r}: {len(poses)} poses")
        self._publish_outcome(outcome, now)

    def _maybe_heartbeat(self, now: float) -> dict[str, float]:
        if self.cfg.heartbeat_hz <= 0.0 or now - self._last_heartbeat < 1.0 / self.cfg.heartbeat_hz:
            return {}
        with self._lock:
            plan_id, poses, obs_stamp = self.core.plan
            stopped = self.core.stopped
        if plan_id == 0 or (not poses and not stopped):
            return {}
        self._last_heartbeat = now
        self._publish_plan(poses, obs_stamp)
        return {topics.PLAN: obs_stamp}

    def _publish_plan(self, poses: Sequence[Pose2D], stamp: float) -> None:
        msg = Path()
        msg.header.frame_id = self.node_cfg.odom_frame
        msg.header.stamp = sec_to_stamp(max(stamp, 0.0))
        for p in poses:
            ps = PoseStamped()
            ps.header = msg.header
            ps.pose.position.x, ps.pose.position.y, ps.pose.position.z = p.x, p.y, p.z
            ps.pose.orientation = yaw_to_quaternion(p.yaw)
            msg.poses.append(ps)
        self.plan_pub.publish(msg)

    def _publish_status(self, status: ReasoningStatus) -> None:
        self.status_pub.publish(String(data=status.to_json()))

    def close(self) -> None:
        """Stop the worker; a reply still in flight is discarded."""
        self._worker.close()


def main(args: list[str] | None = None) -> int:
    """Console script ``reasoning_node``."""
    return run_node(ReasoningNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
