"""``nav-r1 replay`` and ``nav-r1 record``: replay a bag through the stack and report; record a run."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nav_r1.bag.evaluate import EvalOptions, evaluate
from nav_r1.bag.player import STACK_OUTPUTS, PlayOptions, parse_remaps
from nav_r1.bag.reader import BagError, BagSource
from nav_r1.bag.record import DEFAULT_TOPICS
from nav_r1.bag.report import ReportDir, write_report
from nav_r1.bag.traces import TopicNames, read_traces, require_for_replay
from nav_r1.control import ControlConfig
from nav_r1.nodes.control_node import ControlNodeConfig
from r1_core.params import ParamError, from_mapping, iter_params, load_ros_params, replace


def _replay_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nav-r1 replay",
        description="Replay a rosbag2 bag through the control stack and write a JSON + Markdown report.",
    )
    p.add_argument("bag", type=Path, help="bag directory (MCAP or sqlite3, ours or ros2 bag record's)")
    p.add_argument("--report", type=Path, required=True, help="report folder to create")
    p.add_argument("--force", action="store_true", help="replace an existing report folder")
    p.add_argument("--live", action="store_true",
                   help="publish onto live topics with /clock (the nodes under test must run with use_sim_time)")
    p.add_argument("--rate", type=float, default=1.0, help="live playback speed (default 1)")
    p.add_argument("--topics", nargs="+", default=None, help="live: only replay these bag topics")
    p.add_argument("--exclude", nargs="+", default=list(STACK_OUTPUTS),
                   help=f"live: never replay these (default: the stack's outputs {' '.join(STACK_OUTPUTS)})")
    p.add_argument("--remap", nargs="+", default=[], metavar="OLD:=NEW", help="live: publish bag topic OLD as NEW")
    p.add_argument("--wait", type=float, default=15.0, help="live: seconds to wait for the nodes under test")
    p.add_argument("--cmd-unstamped", action="store_true", help="live: cmd_vel is geometry_msgs/Twist")
    p.add_argument("--profile", default="wheeled", help="offline: control preset (wheeled, dog, uav)")
    p.add_argument("--params", type=Path, default=None,
                   help="offline: ROS parameter file for control_node (overrides the preset)")
    p.add_argument("--no-obstacles", action="store_true",
                   help="offline: the bag has no depth; run the core without an obstacle source "
                        "(timeouts.obstacles_s = 0, as the node's obstacle_source none)")
    p.add_argument("--stop-target", type=float, default=EvalOptions.stop_target_s,
                   help="time within which a stop must be commanded after an obstacle appears [s]")
    p.add_argument("--reward-k", type=float, default=EvalOptions.reward_k, help="k of exp(-k d) rewards [1/m]")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-plots", action="store_true", help="JSON and Markdown only")
    return p


#: Parameters every rclpy node accepts besides its own declarations.
_ROS_BUILTIN_PARAMETERS = ("use_sim_time", "start_type_description_service")


def _control_config(args: argparse.Namespace) -> ControlConfig:
    if args.params is None:
        cfg = ControlConfig.for_profile(args.profile)
    else:
        values = load_ros_params(args.params, "control_node")
        # The file also holds the node's own parameters (obstacle_source ...): those are checked
        # by name like the node checks them, then left out; every other name must be the core's.
        node_only = {p.name for p in iter_params(ControlNodeConfig)} | set(_ROS_BUILTIN_PARAMETERS)
        core = {k: v for k, v in values.items() if k not in node_only and not k.startswith("qos_overrides.")}
        cfg = from_mapping(ControlConfig, core, what=str(args.params))
    if args.no_obstacles:
        cfg = replace(cfg, **{"timeouts.obstacles_s": 0.0})
    return cfg


def replay_main(argv: Sequence[str]) -> int:
    """Entry point of ``nav-r1 replay``; returns the exit code (0 ok, 1 bad bag, 2 bad arguments)."""
    args = _replay_parser().parse_args(list(argv))
    names = TopicNames()
    try:
        opts = EvalOptions(stop_target_s=args.stop_target, reward_k=args.reward_k)
        config = _control_config(args)
        play = PlayOptions(rate=args.rate, topics=tuple(args.topics) if args.topics else None,
                           exclude=tuple(args.exclude), remap=parse_remaps(args.remap),
                           progress=not args.no_progress)
    except (ValueError, ParamError, OSError) as exc:
        print(f"[error] {exc}", file=sys.stderr)
        return 2
    try:
        with BagSource(args.bag) as source, ReportDir(args.report, overwrite=args.force) as out:
            require_for_replay(source, names, need_depth=not args.no_obstacles)
            bag = read_traces(source, names)
            t_wall = time.perf_counter()
            if args.live:
                from nav_r1.bag.live import LiveOptions, run_live  # rclpy only when replaying live

                live = LiveOptions(play=play, cmd_stamped=not args.cmd_unstamped, wait_s=args.wait)
                run, played = run_live(source, names, live)
                # How well the player kept to the bag's timing: a lagging player (an overloaded
                # machine) shows up here and explains staleness events in the safety section.
                replay: dict[str, Any] = {"rate": args.rate, "max_lag_s": round(played.max_lag_s, 4),
                                          "published": played.published, "clock_messages": played.clock_msgs}
            else:
                from nav_r1.bag.offline import run_offline

                run, _ = run_offline(source, config, names, progress=not args.no_progress)
                replay = {"rate": None, "controller": "FastController", "profile": args.profile,
                          "params": str(args.params) if args.params else None}
            wall = time.perf_counter() - t_wall
            report = evaluate(bag, run, opts)
            report["replay"] = replay
            write_report(out.tmp, report, bag, run, plots=not args.no_plots)
    except (BagError, FileExistsError, TimeoutError) as exc:
        print(f"[error] {exc}; no report written", file=sys.stderr)
        return 1
    _print_summary(report, args.report, wall, bag.duration_s)
    return 0


def _print_summary(report: dict[str, Any], out: Path, wall: float, duration: float) -> None:
    cmd, saf = report["commands"], report["safety"]
    agree = f"{cmd['action_agreement']:.3f}" if cmd.get("available") else "n/a"
    stops = ", ".join(f"{s['time_to_stop_s']}" for s in saf["stops"]) or "none"
    print(f"replay ({report['mode']}): {duration:.1f} s of bag in {wall:.2f} s wall "
          f"({duration / wall if wall > 0 else float('inf'):.1f}x real time)")
    print(f"action agreement {agree}; safety events {saf['counts'] or 'none'}; time to stop [s]: {stops}")
    print(f"report: {out / 'report.md'}")


def record_main(argv: Sequence[str]) -> int:
    """Entry point of ``nav-r1 record``: record live topics to an MCAP bag until Ctrl-C or --duration."""
    p = argparse.ArgumentParser(prog="nav-r1 record", description="Record live topics to a rosbag2 MCAP bag.")
    p.add_argument("-o", "--output", type=Path, required=True, help="bag directory to create")
    p.add_argument("topics", nargs="*", default=list(DEFAULT_TOPICS),
                   help="topics to record (default: the Nav-R1 graph's); only those advertised are recorded")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: until Ctrl-C)")
    p.add_argument("--discover", type=float, default=2.0, help="seconds to wait for topics to be advertised")
    p.add_argument("--use-sim-time", action="store_true", help="stamp messages with /clock time")
    args = p.parse_args(list(argv))
    from nav_r1.bag.live_record import record_until

    try:
        stats = record_until(args.output, args.topics, args.duration, args.discover, args.use_sim_time)
    except (ValueError, FileExistsError) as exc:
        print(f"[error] {exc}", file=sys.stderr)
        return 1
    total = sum(stats.written.values())
    print(f"recorded {total} messages on {len(stats.written)} topics to {args.output}")
    if stats.dropped_queue_full or stats.dropped_no_clock:
        print(f"dropped: {stats.dropped_queue_full} (queue full), {stats.dropped_no_clock} (before /clock)")
    return 0
