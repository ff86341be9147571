"""The blind stop zone, from a bag: a wall the camera stops seeing must still stop the robot."""

from __future__ import annotations

import json
from pathlib import Path

from wall import build_wall_bag

from nav_r1.bag.cli import replay_main
from nav_r1.bag.offline import run_offline
from nav_r1.bag.reader import BagSource
from nav_r1.control import ControlConfig


def test_a_wall_below_min_range_stops_the_robot_before_the_footprint_and_holds(tmp_path: Path) -> None:
    bag = tmp_path / "wall"
    run = build_wall_bag(bag)
    out = tmp_path / "report"
    assert replay_main([str(bag), "--report", str(out), "--no-progress", "--no-plots", "--profile", "wheeled"]) == 0
    safety = json.loads((out / "report.json").read_text())["safety"]
    stops = [e for e in safety["events"] if e["zone"] == "stop" and e["action"] == "stop"]
    assert stops, safety["events"]
    t_stop = stops[0]["t"]
    assert t_stop < run.reaches_footprint_s
    assert t_stop < run.below_min_range_s  # seen while still in range: the memory only has to hold it
    # On main the all-zero frames read as "clear" and the robot drove on into the wall.
    after = [e for e in safety["events"] if e["t"] > t_stop]
    assert all(e["action"] not in ("clear", "slowdown") for e in after), after

    with BagSource(bag) as source:
        trace, _ = run_offline(source, ControlConfig.for_profile("wheeled"))
    held = [(t, tw) for t, tw, _ in trace.commands if t >= t_stop]
    assert held and held[-1][0] >= run.duration - 0.02  # to the end of the bag
    assert all(tw.is_zero() for _, tw in held)
