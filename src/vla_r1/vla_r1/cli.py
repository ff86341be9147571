"""``vla-r1 up``: bring the arm's node graph up without ``ros2 launch`` (as ``arm.launch.py`` does).

    vla-r1 up --reasoner openai:http://gpu:8000/v1#vla-r1 [--camera none] [--execution direct]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from r1_core.graph import add_options
from r1_core.params import ParamError
from r1_core.runner import Graph, up
from vla_r1.graph import ARM_ARGUMENTS, build_arm_graph


def _up(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="vla-r1 up", description="Start the arm's node graph (as arm.launch.py).")
    add_options(parser, ARM_ARGUMENTS)
    parser.add_argument("--run-dir", type=Path, default=Path("runs") / time.strftime("arm-%Y%m%d-%H%M%S"),
                        help="Where the nodes' parameter files go")
    ns = parser.parse_args(argv)
    values = {a.name: getattr(ns, a.name) for a in ARM_ARGUMENTS}
    try:
        specs = build_arm_graph(values)
    except ParamError as exc:
        print(f"vla-r1 up: {exc}", file=sys.stderr)
        return 2
    graph = Graph(specs, namespace=values["namespace"], log_level=values["log_level"], run_dir=ns.run_dir,
                  log_to_files=False)
    return up(graph, "vla-r1 up")


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``vla-r1``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    if args[0] != "up":
        print(f"vla-r1: unknown command '{args[0]}'; one of: up", file=sys.stderr)
        return 2
    return _up(args[1:])


if __name__ == "__main__":
    raise SystemExit(main())
