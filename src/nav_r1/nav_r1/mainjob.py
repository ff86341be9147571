"""The main job: a headless simulated navigation run of the whole node graph, with a report.

``nav-r1 sim`` generates seeded episodes (or reads an episode file), starts the real graph —
simulator bridge, reasoning node, fast control node, stereo depth node — as separate processes in
lock-step on a private ROS domain, records an MCAP bag, and writes into ``--out``:
``report.md``, ``report.json``, ``episodes.json``, ``results.jsonl``, a top-down picture per
episode, ``bag/`` and ``logs/``. Every input is validated before anything starts; on any failure
the half-written folder is removed, so a run folder always holds a complete run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nav_r1.graph import build_graph
from nav_r1.habitat_job import HabitatJobError, check_habitat_args, prepare_habitat_episodes, require_habitat
from nav_r1.mainjob_report import write_run_report
from nav_r1.reasoners import split_spec
from r1_core import topics
from r1_core.params import ParamError
from r1_core.robots import MOBILE_ROBOTS
from r1_core.ros.node_main import use_default_dds_profile
from r1_core.ros.qos import RELIABLE_QOS
from r1_core.runner import Graph
from r1_sim.episodes import EpisodeError, generate_episodes, load_episodes, save_episodes
from r1_sim.scene import SceneError, generate_scene, load_scene


class MainJobError(RuntimeError):
    """The main job cannot start or did not finish; the message says why."""


@dataclass(frozen=True)
class MainJobOptions:
    """Validated options of ``nav-r1 sim``."""

    robot: str
    episodes: int
    seed: int
    scene: str
    episodes_file: Path | None
    reasoner: str
    out: Path
    depth: str
    sync: bool
    record_images: bool
    timeout_s: float
    episode_timeout_s: float
    width: int
    height: int
    backend: str = "mujoco"
    habitat_settings: str = "auto"


def parse_main_job_args(argv: Sequence[str]) -> MainJobOptions:
    """Parse and validate the command line; raises MainJobError naming the bad option."""
    p = argparse.ArgumentParser(prog="nav-r1 sim", description=__doc__.splitlines()[0])
    p.add_argument("--robot", default="dog", help=f"one of {', '.join(MOBILE_ROBOTS)}")
    p.add_argument("--episodes", type=int, default=10, help="number of generated episodes")
    p.add_argument("--seed", type=int, default=0, help="seed of the scene and the episodes")
    p.add_argument("--scene", default="", help="scene name or JSON file (default: generated from --seed); "
                   "with --backend habitat the scene mesh (.glb) to run")
    p.add_argument("--episodes-file", type=Path, default=None,
                   help="run these episodes instead of generating (ours, or VLN-CE's .json.gz with --backend habitat)")
    p.add_argument("--backend", default="mujoco", choices=("mujoco", "habitat"), help="simulator backend")
    p.add_argument("--habitat-settings", default="auto", choices=("auto", "r2r_ce", "rxr_ce"),
                   help="VLN-CE agent/sensor settings for habitat (auto: rxr_ce when the episodes carry a language)")
    p.add_argument("--reasoner", default="expert", help="expert | transformers:PATH | openai:URL[#model]")
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="run folder to write (must not exist)")
    p.add_argument("--force", action="store_true", help="replace an existing run folder")
    p.add_argument("--depth", default="sgbm", choices=("sgbm", "learned", "none"), help="stereo depth node")
    p.add_argument("--no-sync", action="store_true", help="free-running real time instead of lock-step")
    p.add_argument("--record-images", action="store_true", help="also record colour and depth images")
    p.add_argument("--timeout", type=float, default=1800.0, help="wall-clock limit for the whole run [s]")
    p.add_argument("--episode-timeout", type=float, default=150.0, help="simulated time per episode [s]")
    p.add_argument("--image", default="320x240", help="render size WxH")
    ns = p.parse_args(list(argv))
    if ns.robot not in MOBILE_ROBOTS:
        raise MainJobError(f"unknown robot '{ns.robot}'; expected one of {', '.join(MOBILE_ROBOTS)}")
    if ns.episodes < 1:
        raise MainJobError(f"--episodes must be at least 1, got {ns.episodes}")
    try:
        split_spec(ns.reasoner)
        w, h = (int(v) for v in ns.image.lower().split("x"))
    except ParamError as exc:
        raise MainJobError(str(exc)) from exc
    except ValueError as exc:
        raise MainJobError(f"--image must look like 320x240, got '{ns.image}'") from exc
    if ns.episodes_file is not None and not ns.episodes_file.is_file():
        raise MainJobError(f"episode file '{ns.episodes_file}' does not exist")
    if ns.backend == "habitat":
        try:
            check_habitat_args(ns.robot, ns.scene, ns.episodes_file, ns.reasoner)
        except HabitatJobError as exc:
            raise MainJobError(str(exc)) from exc
    if ns.out.exists() and not ns.force:
        raise MainJobError(f"run folder '{ns.out}' exists; choose another --out or pass --force")
    return MainJobOptions(ns.robot, ns.episodes, ns.seed, ns.scene, ns.episodes_file, ns.reasoner, ns.out,
                          ns.depth, not ns.no_sync, ns.record_images, ns.timeout, ns.episode_timeout, w, h,
                          ns.backend, ns.habitat_settings)


def prepare_episodes(opts: MainJobOptions, folder: Path) -> tuple[Any, list[Any]]:
    """Load or generate the episodes (validated) and write them to ``folder/episodes.json``."""
    try:
        if opts.episodes_file is not None:
            episodes = load_episodes(opts.episodes_file)
            if not episodes:
                raise MainJobError(f"episode file '{opts.episodes_file}' holds no episodes")
            scene = episodes[0].scene_obj(opts.episodes_file.parent)
            mismatched = [e.episode_id for e in episodes if e.robot != opts.robot]
            if mismatched:
                raise MainJobError(f"episodes {mismatched[:3]} are for another robot than '{opts.robot}'")
        else:
            scene = load_scene(opts.scene) if opts.scene else generate_scene(opts.seed)
            episodes = generate_episodes(scene, opts.episodes, opts.seed, opts.robot)
    except (EpisodeError, SceneError) as exc:
        raise MainJobError(str(exc)) from exc
    save_episodes(folder / "episodes.json", episodes)
    return scene, episodes


RECORDED_TOPICS = (
    (topics.ODOM, "nav_msgs/msg/Odometry"),
    (topics.CMD_VEL, "geometry_msgs/msg/TwistStamped"),
    (topics.PLAN, "nav_msgs/msg/Path"),
    (topics.STATUS, "std_msgs/msg/String"),
    (topics.SAFETY, "std_msgs/msg/String"),
    (topics.CONTROL_STATS, "std_msgs/msg/String"),
    (topics.INSTRUCTION, "std_msgs/msg/String"),
    (topics.SIM_EPISODE, "std_msgs/msg/String"),
)
IMAGE_TOPICS = (
    (topics.DEPTH_IMAGE, "sensor_msgs/msg/Image"),
    (topics.DEPTH_INFO, "sensor_msgs/msg/CameraInfo"),
    (topics.COLOR_IMAGE, "sensor_msgs/msg/Image"),
)


def run_main_job(opts: MainJobOptions) -> int:
    """Run the whole job; returns 0 when every episode ran (whatever their success)."""
    tmp = opts.out.with_name(opts.out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        habitat: dict[str, Any] = {}
        scene: Any
        if opts.backend == "habitat":
            try:
                require_habitat()
                scene, episodes, habitat = prepare_habitat_episodes(opts, tmp)
            except HabitatJobError as exc:
                raise MainJobError(str(exc)) from exc
        else:
            scene, episodes = prepare_episodes(opts, tmp)
        values = {"robot": opts.robot, "use_sim": "true", "reasoner": opts.reasoner,
                  "episodes_file": str((tmp / "episodes.json").resolve()), "depth": opts.depth,
                  "sync": "true" if opts.sync else "false", "sim_backend": opts.backend,
                  "habitat_scene": habitat.get("scene", "")}
        specs = build_graph(values)
        results_file = tmp / "results.jsonl"
        sim_extra = {"habitat_settings": habitat["settings"]} if habitat else {}
        specs = [replace(s, parameters={**s.parameters, "results_file": str(results_file.resolve()),
                                        "episode_timeout_s": opts.episode_timeout_s,
                                        "sim.width": opts.width, "sim.height": opts.height, **sim_extra})
                 if s.role == "sim" else s for s in specs]
        env = private_domain_env()
        print(f"nav-r1 sim: {len(episodes)} episode(s) of '{opts.robot}' in scene "
              f"'{habitat.get('scene') or scene.name}' ({opts.backend}), reasoner "
              f"'{opts.reasoner}', ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}, run folder {opts.out}", flush=True)
        started = time.monotonic()
        os.environ.update(env)
        monitor = _Monitor(tmp / "bag", len(episodes), opts.record_images)
        graph = Graph(specs, run_dir=tmp, env=env)
        try:
            graph.start()
            monitor.start()
            _wait(graph, monitor, opts.timeout_s, started)
        finally:
            monitor.stop()
            codes = graph.stop()
        bad = {k: v for k, v in codes.items() if v not in (0, -2, 130)}
        results = [json.loads(line) for line in results_file.read_text().splitlines()] if results_file.is_file() \
            else []
        if len(results) != len(episodes):
            raise MainJobError(f"{len(results)} of {len(episodes)} episodes finished; node exit codes {codes}")
        if bad:
            print(f"nav-r1 sim: warning: nodes exited with {bad} after the run", file=sys.stderr)
        summary = write_run_report(tmp, scene, episodes, results, monitor.stats(),
                                   wall_time_s=time.monotonic() - started, options=opts, habitat=habitat)
        if opts.out.exists():
            shutil.rmtree(opts.out)
        tmp.rename(opts.out)
        print(summary, flush=True)
        print(f"nav-r1 sim: report written to {opts.out / 'report.md'}", flush=True)
        return 0
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def private_domain_env() -> dict[str, str]:
    """Environment for a self-contained run: a random ROS domain (unless set) and localhost discovery."""
    env = {"ROS_AUTOMATIC_DISCOVERY_RANGE": os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST"),
           "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    env["ROS_DOMAIN_ID"] = os.environ.get("ROS_DOMAIN_ID") or str(random.SystemRandom().randint(1, 100))
    return env


def _wait(graph: Any, monitor: _Monitor, timeout_s: float, started: float) -> None:
    while not monitor.done.is_set():
        dead = graph.dead()
        if dead:
            name, rc = dead[0]
            raise MainJobError(f"node '{name}' exited with code {rc}:\n{graph.tail(name)}")
        if time.monotonic() - started > timeout_s:
            raise MainJobError(f"the run did not finish within {timeout_s:.0f} s")
        monitor.done.wait(0.5)


class _Monitor:
    """An in-process rclpy node that records the bag and shows progress from ``sim/episode``."""

    def __init__(self, bag: Path, total: int, images: bool) -> None:
        self.bag, self.total, self.images = bag, total, images
        self.done = threading.Event()
        self._thread: threading.Thread | None = None
        self._stats: list[dict[str, Any]] = []
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self.recorded: dict[str, Any] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)
        self._thread.start()
        self._ready.wait(30.0)
        if self._error is not None:
            raise MainJobError(f"recorder failed to start: {self._error}")

    def _run(self) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.parameter import Parameter
        from std_msgs.msg import String
        from tqdm import tqdm

        from nav_r1.bag.record import BagRecorder

        use_default_dds_profile()
        ctx = rclpy.Context()
        rclpy.init(context=ctx)
        node = rclpy.create_node("run_monitor", context=ctx,
                                 parameter_overrides=[Parameter("use_sim_time", Parameter.Type.BOOL, True)])
        bar = tqdm(total=self.total, desc="episodes", unit="ep", file=sys.stdout, dynamic_ncols=False, ncols=90)
        recorder = None
        try:
            recorded = dict(RECORDED_TOPICS + (IMAGE_TOPICS if self.images else ()))
            recorder = BagRecorder(node, recorded, self.bag)

            def on_episode(msg: String) -> None:
                data = json.loads(msg.data)
                if data.get("done"):
                    self.done.set()
                    return
                bar.update(1)
                bar.set_postfix_str(f"{data['episode_id']} stop={data['called_stop']} t={data['sim_time_s']:.0f}s")

            def on_stats(msg: String) -> None:
                with contextlib.suppress(json.JSONDecodeError):
                    self._stats.append(json.loads(msg.data))

            node.create_subscription(String, topics.SIM_EPISODE, on_episode, RELIABLE_QOS)
            node.create_subscription(String, topics.CONTROL_STATS, on_stats, RELIABLE_QOS)
            executor = SingleThreadedExecutor(context=ctx)
            executor.add_node(node)
            self._ready.set()
            while not self._stop.is_set():
                executor.spin_once(timeout_sec=0.1)
            executor.shutdown()
        except BaseException as exc:  # surfaced to the main thread through start()/stats
            self._error = exc
            self._ready.set()
        finally:
            bar.close()
            if recorder is not None:
                recorder.close()
                self.recorded = dict(recorder.stats.__dict__)
            node.destroy_node()
            rclpy.shutdown(context=ctx)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30.0)

    def stats(self) -> dict[str, Any]:
        return {"control_stats": self._stats, "bag": self.recorded}
