"""``vla-r1 up``: bring the arm's node graph up without ``ros2 launch`` (as ``arm.launch.py`` does).

    vla-r1 up --reasoner openai:http://gpu:8000/v1#vla-r1 [--camera none] [--execution direct]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from r1_core.runner import up_main
from vla_r1.graph import ARM_ARGUMENTS, build_arm_graph


def _up(argv: Sequence[str]) -> int:
    return up_main(argv, prog="vla-r1 up", description="Start the arm's node graph (as arm.launch.py).",
                   arguments=ARM_ARGUMENTS, build=build_arm_graph, run_prefix="arm")


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
