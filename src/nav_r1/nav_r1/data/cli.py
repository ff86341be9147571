"""``nav-r1 data``: record a Nav-CoT dataset with the simulator expert."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from r1_core.params import ParamError


def data_main(argv: Sequence[str]) -> int:
    """Parse the arguments, build the dataset, print the row counts; 2 on bad input."""
    from nav_r1.data.engine import DataConfig, build_dataset

    d = DataConfig()
    parser = argparse.ArgumentParser(prog="nav-r1 data", description="Record Nav-CoT rows with the sim expert.")
    parser.add_argument("--out", type=Path, required=True, help="Dataset folder to create")
    parser.add_argument("--robot", default=d.robot, help="Simulated robot (dog, wheeled, uav)")
    parser.add_argument("--episodes", type=int, default=d.episodes, help="Episodes over procedural scenes")
    parser.add_argument("--seed", type=int, default=d.seed, help="Seed of the first procedural scene")
    parser.add_argument("--episodes-file", type=Path, default=None, help="Record these episodes instead")
    parser.add_argument("--episodes-per-scene", type=int, default=d.episodes_per_scene)
    parser.add_argument("--rooms", type=int, default=d.rooms, help="Rooms per procedural scene")
    parser.add_argument("--width", type=int, default=d.width, help="Camera width [px]")
    parser.add_argument("--height", type=int, default=d.height, help="Camera height [px]")
    parser.add_argument("--min-length", type=float, default=d.min_length_m, help="Shortest episode [m]")
    parser.add_argument("--max-length", type=float, default=d.max_length_m, help="Longest episode [m]")
    parser.add_argument("--cot", choices=("full", "brief"), default=d.cot,
                        help="Chain-of-thought in targets: the expert's full text or its decision sentence")
    parser.add_argument("--force", action="store_true", help="Replace an existing --out folder")
    parser.add_argument("--no-progress", action="store_true", help="No progress bar")
    ns = parser.parse_args(list(argv))
    try:
        cfg = DataConfig(robot=ns.robot, episodes=ns.episodes, seed=ns.seed, episodes_per_scene=ns.episodes_per_scene,
                         rooms=ns.rooms, width=ns.width, height=ns.height, min_length_m=ns.min_length,
                         max_length_m=ns.max_length, cot=ns.cot)
        command = "nav-r1 data " + " ".join(argv)
        counts = build_dataset(ns.out, cfg, episodes_file=ns.episodes_file, force=ns.force,
                               progress=not ns.no_progress, command=command)
    except (ParamError, ValueError, OSError) as exc:
        print(f"nav-r1 data: {exc}", file=sys.stderr)
        return 2
    print(f"nav-r1 data: wrote {ns.out} ({', '.join(f'{s} {n} rows' for s, n in counts.items())})")
    return 0
