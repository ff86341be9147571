"""The simulator bridge: publishes what a real robot publishes and runs episodes.

Out: ``camera/color/image_raw`` (rgb8) and ``camera/depth/image_raw`` (32FC1) with camera_infos,
``stereo/left|right/image_rect`` with camera_infos, ``odom``, ``/clock``; in: ``cmd_vel``.
With ``episodes_file`` set it runs each episode (reset, instruction on ``nav_r1/instruction``,
until the reasoner says stop or time runs out) and reports each on ``sim/episode`` (JSON) and in
``results_file`` (JSON lines). With ``sim_sync`` it is the master of the lock-step
(:mod:`r1_core.ros.sim_sync`), so a seeded run is reproducible; otherwise it runs at
``rate_factor`` times real time.

Threads: the main thread owns the simulator and the episode loop; the executor thread only
stores incoming commands and status under ``_lock``.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rclpy
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import String

from r1_core import topics
from r1_core.params import nested, param, validate_params
from r1_core.reasoner import Pose2D
from r1_core.reasoning_status import ReasoningState, ReasoningStatus, StatusError
from r1_core.robots import MOBILE_ROBOTS
from r1_core.ros.convert import make_camera_info, numpy_to_image, sec_to_stamp, stamp_to_sec, yaw_to_quaternion
from r1_core.ros.node_main import run_node
from r1_core.ros.params import declare_config
from r1_core.ros.qos import RELIABLE_QOS
from r1_core.ros.sim_sync import SyncMaster
from r1_sim.episode_runner import EpisodeRules, EpisodeRun, Pacer
from r1_sim.episodes import load_episodes
from r1_sim.scene import generate_scene, load_scene
from r1_sim.world import SimConfig, make_simulator

COLOR, DEPTH = topics.COLOR_IMAGE, topics.DEPTH_IMAGE
LEFT, RIGHT = topics.STEREO_LEFT_IMAGE, topics.STEREO_RIGHT_IMAGE


@dataclass(frozen=True)
class BridgeConfig:
    """Parameters of the simulator bridge node."""

    robot: str = param("dog", "Robot to simulate", choices=MOBILE_ROBOTS)
    backend: str = param("mujoco", "Simulator backend", choices=("mujoco", "habitat"))
    scene: str = param("seed:0", "Scene name, JSON path, or seed:N (used when no episodes file is given)")
    habitat_scene: str = param("", "Habitat scene file (.glb) for the habitat backend (default: the episodes' scene)")
    habitat_settings: str = param("r2r_ce", "VLN-CE agent and sensor settings of the habitat backend",
                                  choices=("r2r_ce", "rxr_ce"))
    episodes_file: str = param("", "Episodes to run (JSON); empty: free-running scene")
    results_file: str = param("", "Where to append per-episode results (JSON lines); empty: none")
    control_dt: float = param(0.01, "Simulation tick: odometry and lock-step period [s]", min=0.001, max=0.1)
    rate_factor: float = param(1.0, "Real-time factor when not lock-stepped", min=0.01, max=100.0)
    publish_stereo: bool = param(True, "Publish the rectified stereo pair")
    episode_timeout_s: float = param(150.0, "Simulated time after which an episode ends unfinished [s]", min=1.0)
    settle_timeout_s: float = param(3.0, "After stop, wait at most this long for the robot to come to rest "
                                    "(every speed under r1_sim.episode_runner.SETTLE_SPEED) [s]",
                                    min=0.0)
    cmd_timeout_s: float = param(0.5, "Base watchdog: no cmd_vel for this long -> zero command [s]", min=0.01)
    cmd_vel_stamped: bool = param(True, "cmd_vel is TwistStamped (Kilted default) rather than Twist")
    sim_sync: bool = param(False, "Lock-step with the nodes named in sync_participants")
    sync_participants: tuple[str, ...] = param(("control_node",), "Nodes the lock-step waits for on every tick")
    sync_camera_participants: tuple[str, ...] = param(
        ("reasoning_node",), "Nodes the lock-step waits for on ticks that carry a camera frame")
    sync_timeout_s: float = param(30.0, "Wall-clock wait for a lock-step answer before going on [s]", min=0.1)
    startup_timeout_s: float = param(180.0, "Wait for the other nodes to appear at start [s]", min=1.0)
    exit_when_done: bool = param(True, "Exit after the last episode")
    odom_frame: str = param("odom", "Odometry frame id")
    base_frame: str = param("base_link", "Robot base frame id")
    sim: SimConfig = nested(SimConfig, "Simulator settings")

    def __post_init__(self) -> None:
        validate_params(self)


class BridgeNode(Node):
    """Owns the simulator; see the module docstring for topics and threads."""

    #: Its callbacks only store commands and status: a single-threaded executor.
    executor_kind = "single"

    def __init__(self) -> None:
        super().__init__("sim_bridge")
        self.cfg = declare_config(self, BridgeConfig)
        habitat = self.cfg.backend == "habitat"
        # Habitat scenes are meshes, not our box scenes: the episodes name them and are not checked here.
        self.episodes = (load_episodes(Path(self.cfg.episodes_file), check_scenes=not habitat)
                         if self.cfg.episodes_file else [])
        scene = None
        habitat_scene = self.cfg.habitat_scene
        if habitat:
            if not habitat_scene and self.episodes:
                habitat_scene = self.episodes[0].scene
            other = sorted({e.scene for e in self.episodes} - {habitat_scene})
            if other:
                raise ValueError(f"habitat backend runs one scene ({habitat_scene}); episodes also name {other[:3]}")
        elif self.episodes:
            scene = self.episodes[0].scene_obj(Path(self.cfg.episodes_file).parent)
        elif self.cfg.scene.startswith("seed:"):
            scene = generate_scene(int(self.cfg.scene.split(":", 1)[1]))
        else:
            scene = load_scene(self.cfg.scene)
        self.sim = make_simulator(self.cfg.backend, self.cfg.robot, scene, self.cfg.sim, habitat_scene,
                                  self.cfg.habitat_settings)
        scene_name = habitat_scene if scene is None else scene.name
        self._lock = threading.Lock()
        self._cmd = (0.0, 0.0, 0.0, 0.0)
        self._cmd_time = -math.inf
        self._status: ReasoningStatus | None = None
        self._instructed = threading.Event()
        self._stop_said = False
        self._instruction = ""
        self.t = 0.0
        self.seq = 0
        qos = RELIABLE_QOS
        self.pubs = {
            topics.ODOM: self.create_publisher(Odometry, topics.ODOM, qos),
            COLOR: self.create_publisher(Image, COLOR, qos),
            DEPTH: self.create_publisher(Image, DEPTH, qos),
            "color_info": self.create_publisher(CameraInfo, topics.COLOR_INFO, qos),
            "depth_info": self.create_publisher(CameraInfo, topics.DEPTH_INFO, qos),
            LEFT: self.create_publisher(Image, LEFT, qos),
            RIGHT: self.create_publisher(Image, RIGHT, qos),
            "left_info": self.create_publisher(CameraInfo, topics.STEREO_LEFT_INFO, qos),
            "right_info": self.create_publisher(CameraInfo, topics.STEREO_RIGHT_INFO, qos),
        }
        self.clock_pub = self.create_publisher(Clock, topics.CLOCK, qos)
        self.instruction_pub = self.create_publisher(String, topics.INSTRUCTION, qos)
        self.episode_pub = self.create_publisher(String, topics.SIM_EPISODE, qos)
        cmd_type = TwistStamped if self.cfg.cmd_vel_stamped else Twist
        self.create_subscription(cmd_type, topics.CMD_VEL, self._on_cmd, qos)
        self.create_subscription(String, topics.STATUS, self._on_status, qos)
        self.master = SyncMaster(self, (*self.cfg.sync_participants, *self.cfg.sync_camera_participants),
                                 self.cfg.sync_timeout_s) if self.cfg.sim_sync else None
        self.rules = EpisodeRules(self.cfg.episode_timeout_s, self.cfg.settle_timeout_s)
        self._camera_period = 1.0 / self.cfg.sim.camera_rate_hz
        self._next_camera = 0.0
        self.get_logger().info(
            f"simulating '{self.cfg.robot}' in scene '{scene_name}' ({self.cfg.backend}), "
            f"{len(self.episodes)} episode(s), {'lock-step' if self.master else f'x{self.cfg.rate_factor} real time'}"
        )

    # ---- inputs (executor thread) -------------------------------------------------------
    def _on_cmd(self, msg: TwistStamped | Twist) -> None:
        tw = msg.twist if isinstance(msg, TwistStamped) else msg
        stamp = stamp_to_sec(msg.header.stamp) if isinstance(msg, TwistStamped) else self.t
        with self._lock:
            self._cmd = (tw.linear.x, tw.linear.y, tw.linear.z, tw.angular.z)
            self._cmd_time = self.t
        if self.master is not None:
            self.master.received(topics.CMD_VEL, stamp)

    def _on_status(self, msg: String) -> None:
        try:
            status = ReasoningStatus.from_json(msg.data)
        except StatusError as exc:
            self.get_logger().error(f"ignored a reasoning status: {exc}", throttle_duration_sec=5.0)
            return
        with self._lock:
            self._status = status
            if status.instruction == self._instruction:
                if status.state is ReasoningState.INSTRUCTED:
                    self._instructed.set()
                if status.stop:
                    self._stop_said = True
        if self.master is not None:
            self.master.received(topics.STATUS, status.stamp)

    # ---- one simulation tick (main thread) ----------------------------------------------
    def _tick(self, published_before: dict[str, float]) -> dict[str, float]:
        with self._lock:
            cmd = self._cmd if self.t - self._cmd_time <= self.cfg.cmd_timeout_s else (0.0, 0.0, 0.0, 0.0)
        self.sim.apply_command(*cmd)
        self.sim.step(self.cfg.control_dt)
        self.t = round(self.t + self.cfg.control_dt, 9)
        expect = dict(published_before)
        expect.update(self._publish_sensors())
        self.clock_pub.publish(Clock(clock=sec_to_stamp(self.t)))
        self.seq += 1
        if self.master is None:
            return {}
        who = set(self.cfg.sync_participants)
        if COLOR in expect:
            who.update(self.cfg.sync_camera_participants)
        res = self.master.tick(self.seq, self.t, expect, consumes=[topics.CMD_VEL, topics.STATUS], participants=who)
        return res.published

    def _publish_sensors(self) -> dict[str, float]:
        t = self.t
        pose, (vx, vy, vz, wz) = self.sim.pose(), self.sim.twist()
        odom = Odometry()
        odom.header.stamp = sec_to_stamp(t)
        odom.header.frame_id = self.cfg.odom_frame
        odom.child_frame_id = self.cfg.base_frame
        odom.pose.pose.position.x, odom.pose.pose.position.y, odom.pose.pose.position.z = pose.x, pose.y, pose.z
        odom.pose.pose.orientation = yaw_to_quaternion(pose.yaw)
        odom.twist.twist.linear.x, odom.twist.twist.linear.y, odom.twist.twist.linear.z = vx, vy, vz
        odom.twist.twist.angular.z = wz
        self.pubs[topics.ODOM].publish(odom)
        out = {topics.ODOM: t}
        if t + 1e-9 >= self._next_camera:
            self._next_camera += self._camera_period
            out.update(self._publish_cameras(t))
        return out

    def _publish_cameras(self, t: float) -> dict[str, float]:
        k = self.sim.camera_intrinsics()
        w, h = self.sim.config.width, self.sim.config.height
        rgb, depth = self.sim.render_rgbd()
        color_frame = "camera_color_optical_frame"
        info = make_camera_info(k, w, h, color_frame, t)
        self.pubs["color_info"].publish(info)
        self.pubs["depth_info"].publish(info)
        self.pubs[DEPTH].publish(numpy_to_image(depth, "32FC1", t, color_frame))
        self.pubs[COLOR].publish(numpy_to_image(rgb, "rgb8", t, color_frame))
        out = {COLOR: t, DEPTH: t}
        if self.cfg.publish_stereo:
            left, right = self.sim.render_stereo()
            baseline = float(self.sim.stereo_baseline_m)
            self.pubs["left_info"].publish(make_camera_info(k, w, h, "stereo_left_optical_frame", t))
            self.pubs["right_info"].publish(make_camera_info(k, w, h, "stereo_right_optical_frame", t,
                                                             baseline_tx=-k[0, 0] * baseline))
            self.pubs[LEFT].publish(numpy_to_image(left, "rgb8", t, "stereo_left_optical_frame"))
            self.pubs[RIGHT].publish(numpy_to_image(right, "rgb8", t, "stereo_right_optical_frame"))
        return out

    # ---- episodes -----------------------------------------------------------------------
    def _instruct(self, text: str) -> bool:
        """Publish an instruction until the reasoning node confirms it (bounded wait)."""
        with self._lock:
            self._instruction = text
            self._stop_said = False
            self._instructed.clear()
        # Re-send only after a long silence: a duplicate arriving mid-episode would restart the
        # reasoner's instruction and make the run depend on DDS timing.
        deadline = time.monotonic() + self.cfg.startup_timeout_s
        while time.monotonic() < deadline and rclpy.ok(context=self.context):
            self.instruction_pub.publish(String(data=text))
            if self._instructed.wait(10.0):
                return True
            self.get_logger().warning("instruction not acknowledged within 10 s; sending it again")
        return False

    def run_episode(self, episode: Any) -> dict[str, Any]:
        """Run one episode to its end and return the raw result (metrics are computed by the caller)."""
        start: Pose2D = episode.start
        self.sim.reset(start)
        with self._lock:
            self._cmd, self._cmd_time = (0.0, 0.0, 0.0, 0.0), -math.inf
        run = EpisodeRun(self.rules, t0=self.t)
        wall0 = time.monotonic()
        pacer = Pacer(self.cfg.rate_factor, self.t) if self.master is None else None
        self._next_camera = self.t
        published = self._tick({})  # publish the start state so the reasoner sees the new pose
        if not self._instruct(episode.instruction):
            raise RuntimeError("the reasoning node never acknowledged the instruction (is it running?)")
        misses0 = self.master.deadline_misses if self.master else 0
        while rclpy.ok(context=self.context):
            if pacer is not None:  # free-running: pace against the wall clock
                pacer.wait(self.t)
            published = self._tick(published)
            with self._lock:
                stop_said = self._stop_said
            if run.after_tick(self.t, self.sim, stop_said):
                break
        outcome = run.finish(self.t, self.sim)
        with self._lock:
            failures = self._status.failures if self._status is not None else 0
        return {
            "episode_id": episode.episode_id,
            "robot": self.cfg.robot,
            "instruction": episode.instruction,
            "called_stop": outcome.called_stop,
            "sim_time_s": outcome.sim_time_s,
            "wall_time_s": round(time.monotonic() - wall0, 3),
            "collisions": int(self.sim.collisions),
            "ticks": outcome.ticks,
            "sync_deadline_misses": (self.master.deadline_misses - misses0) if self.master else 0,
            "reasoner_failures": failures,
            "trajectory": outcome.trajectory,
        }

    def run(self) -> None:
        """The main loop: episodes one after another, or a free-running scene."""
        if self.master is not None and not self.master.wait_for_participants(self.cfg.startup_timeout_s):
            raise RuntimeError(f"lock-step participants {sorted(self.master.participants)} did not appear")
        if not self.episodes:
            published: dict[str, float] = {}
            pacer = Pacer(self.cfg.rate_factor, self.t) if self.master is None else None
            while rclpy.ok(context=self.context):
                if pacer is not None:
                    pacer.wait(self.t)
                published = self._tick(published)
            return
        results = Path(self.cfg.results_file) if self.cfg.results_file else None
        for i, episode in enumerate(self.episodes):
            result = self.run_episode(episode)
            line = json.dumps(result)
            if results is not None:
                with results.open("a") as fh:
                    fh.write(line + "\n")
            self.episode_pub.publish(String(data=line))
            self.get_logger().info(
                f"episode {i + 1}/{len(self.episodes)} '{episode.episode_id}': stop={result['called_stop']} "
                f"sim {result['sim_time_s']:.1f}s wall {result['wall_time_s']:.1f}s collisions {result['collisions']}"
            )
        self.episode_pub.publish(String(data=json.dumps({"done": True, "episodes": len(self.episodes)})))
        if not self.cfg.exit_when_done:
            while rclpy.ok(context=self.context):
                time.sleep(0.1)

    def close(self) -> None:
        """Release the renderer."""
        self.sim.close()


def main(args: list[str] | None = None) -> int:
    """Console script ``sim_bridge``: the executor spins in a thread, the episode loop in main."""
    # ImportError: the habitat backend without habitat-sim installed.
    return run_node(BridgeNode, args, main_loop=BridgeNode.run, fatal=(RuntimeError, ValueError, OSError, ImportError))


if __name__ == "__main__":
    raise SystemExit(main())
