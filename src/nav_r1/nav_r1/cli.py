"""``nav-r1``: bring the graph up without ``ros2 launch``, run the simulated main job, replay bags.

    nav-r1 up --robot dog [--use_sim true --episodes_file F]   the node graph, as robot.launch.py
    nav-r1 sim [--robot dog] [--episodes 10] [--seed 0] --out runs/demo   the main job
    nav-r1 replay BAG --report DIR                               evaluate a recorded run
    nav-r1 record --output BAG [topics]                          record a live run
    nav-r1 params                                                the parameter tables (Markdown)
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from nav_r1.graph import LAUNCH_ARGUMENTS, build_graph, parse_arguments
from r1_core.params import ParamError


def _up(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="nav-r1 up", description="Start the node graph (same as robot.launch.py).")
    for a in LAUNCH_ARGUMENTS:
        parser.add_argument(f"--{a.name}", default=a.default, choices=a.choices, help=a.description)
    parser.add_argument("--run-dir", type=Path, default=Path("runs") / time.strftime("up-%Y%m%d-%H%M%S"),
                        help="Where node logs and parameter files go")
    ns = parser.parse_args(argv)
    values = {a.name: getattr(ns, a.name) for a in LAUNCH_ARGUMENTS}
    try:
        specs = build_graph(values)
    except ParamError as exc:
        print(f"nav-r1 up: {exc}", file=sys.stderr)
        return 2
    from nav_r1.runner import Graph

    graph = Graph(specs, namespace=values["namespace"], log_level=values["log_level"], run_dir=ns.run_dir,
                  log_to_files=False)
    graph.start()
    print(f"nav-r1 up: started {', '.join(s.name for s in specs)} (Ctrl-C stops)", flush=True)
    try:
        while not graph.dead():
            time.sleep(0.5)
        for name, rc in graph.dead():
            print(f"nav-r1 up: node '{name}' exited with code {rc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        graph.stop()


def _params(argv: Sequence[str]) -> int:
    from nav_r1.nodes.reasoning_node import NodeConfig
    from nav_r1.reasoning import ReasoningConfig
    from r1_core.params import markdown_table

    sections: list[tuple[str, type]] = [("reasoning_node", ReasoningConfig), ("reasoning_node (node)", NodeConfig)]
    try:
        from nav_r1.control.config import ControlConfig

        sections.append(("control_node", ControlConfig))
    except ImportError:  # pragma: no cover - the control package is part of nav_r1
        pass
    try:
        from r1_sim.bridge_node import BridgeConfig

        sections.append(("sim_bridge", BridgeConfig))
    except ImportError:
        pass
    for title, cls in sections:
        print(f"### {title}\n\n{markdown_table(cls)}\n")
    return 0


def _exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the graph's processes are stopped and nothing is orphaned."""
    import signal

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``nav-r1``."""
    args = list(sys.argv[1:] if argv is None else argv)
    _exit_on_sigterm()
    commands = {"up": _up, "sim": _sim, "replay": _replay, "record": _record, "params": _params}
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    cmd = commands.get(args[0])
    if cmd is None:
        import difflib

        near = difflib.get_close_matches(args[0], list(commands), n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        print(f"nav-r1: unknown command '{args[0]}'{hint}; one of {', '.join(commands)}", file=sys.stderr)
        return 2
    return cmd(args[1:])


def _replay(argv: Sequence[str]) -> int:
    from nav_r1.bag.cli import replay_main

    return replay_main(list(argv))


def _record(argv: Sequence[str]) -> int:
    from nav_r1.bag.cli import record_main

    return record_main(list(argv))


def _sim(argv: Sequence[str]) -> int:
    from nav_r1.mainjob import MainJobError, parse_main_job_args, run_main_job

    try:
        options = parse_main_job_args(argv)
        return run_main_job(options)
    except MainJobError as exc:
        print(f"nav-r1 sim: {exc}", file=sys.stderr)
        return 2
    except ParamError as exc:
        print(f"nav-r1 sim: {exc}", file=sys.stderr)
        return 2


def private_domain_env() -> dict[str, str]:
    """Environment for a self-contained run: a random ROS domain (unless set) and localhost discovery."""
    env = {"ROS_AUTOMATIC_DISCOVERY_RANGE": os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST"),
           "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    env["ROS_DOMAIN_ID"] = os.environ.get("ROS_DOMAIN_ID") or str(random.SystemRandom().randint(1, 100))
    return env


__all__ = ["main", "parse_arguments", "private_domain_env"]

if __name__ == "__main__":
    raise SystemExit(main())
