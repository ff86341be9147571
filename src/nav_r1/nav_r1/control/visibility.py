"""Which part of each collision zone the depth camera can see: mount pose, field of view, min range.

A zone cell (x, y) counts as visible when some height of the obstacle band (``depth.min_height``
to ``depth.max_height``) above it lies inside the camera's field of view between ``min_range`` and
``max_range``. What matters for safety is the stop zone's visible depth straight ahead of the
robot: an obstacle entering the stop zone there must still be visible after the robot has braked
from ``limits.max_vx`` at ``limits.max_linear_decel`` (plus ``depth.reaction_s`` of travel), or the
robot relies on the obstacle memory alone. The check warns when it is not ("mostly blind").
"""

from __future__ import annotations

import argparse
import difflib
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from nav_r1.control.config import ControlConfig
from nav_r1.control.depth import base_from_optical
from nav_r1.control.safety import Zone, ZoneChecker, points_in_polygon
from r1_core.params import ParamError, iter_params, load_ros_params, replace

_CELL_M = 0.01
_HEIGHTS = 16


@dataclass(frozen=True)
class ZoneVisibility:
    """How much of one zone the camera sees."""

    zone: str
    visible_fraction: float  # share of the zone's area
    front_x: float  # the zone's farthest point ahead on the robot's centreline [m]
    nearest_visible_x: float  # the nearest visible point ahead on the centreline (inf: none) [m]

    @property
    def visible_ahead_m(self) -> float:
        """Length of the centreline strip ahead that the camera sees, up to the zone's front [m]."""
        return max(self.front_x - self.nearest_visible_x, 0.0) if math.isfinite(self.nearest_visible_x) else 0.0


@dataclass(frozen=True)
class VisibilityReport:
    """Every zone's visibility and the stopping distance it is judged against."""

    zones: tuple[ZoneVisibility, ...]
    braking_m: float
    max_vx: float
    warnings: tuple[str, ...]

    def lines(self) -> list[str]:
        """Human-readable lines (warnings start with ``WARNING``)."""
        out = [f"zone '{z.zone}': camera sees {z.visible_fraction:.0%} of it, {z.visible_ahead_m:.2f} m ahead "
               f"(x {z.nearest_visible_x:.2f}..{z.front_x:.2f} m on the centreline)" for z in self.zones]
        out.append(f"stopping from {self.max_vx:.2f} m/s needs {self.braking_m:.2f} m")
        return out + [f"WARNING: {w}" for w in self.warnings]


def visible_columns(cfg: ControlConfig, xy: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Whether the camera sees any height of the obstacle band above each (N, 2) base_link point."""
    d = cfg.depth
    rot, t = base_from_optical(d)
    heights = np.linspace(d.min_height, d.max_height, _HEIGHTS)
    pts = np.empty((len(xy), _HEIGHTS, 3))
    pts[:, :, 0] = xy[:, 0:1]
    pts[:, :, 1] = xy[:, 1:2]
    pts[:, :, 2] = heights
    opt = (pts - t.astype(np.float64)) @ rot.astype(np.float64)  # into the optical frame
    z = opt[..., 2]
    tan_h, tan_v = math.tan(math.radians(d.hfov_deg) / 2), math.tan(math.radians(d.vfov_deg) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        seen = ((z >= d.min_range) & (z <= d.max_range)
                & (np.abs(opt[..., 0]) <= tan_h * z) & (np.abs(opt[..., 1]) <= tan_v * z))
    return np.asarray(seen.any(axis=1))


def _zone_visibility(cfg: ControlConfig, zone: Zone) -> ZoneVisibility:
    poly = zone.polygon
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    xs = np.arange(lo[0] + _CELL_M / 2, hi[0], _CELL_M)
    ys = np.arange(lo[1] + _CELL_M / 2, hi[1], _CELL_M)
    gx, gy = np.meshgrid(xs, ys)
    cells = np.stack([gx.ravel(), gy.ravel()], axis=1)
    cells = cells[points_in_polygon(cells.astype(np.float32), poly)]
    seen = visible_columns(cfg, cells)
    fraction = float(seen.mean()) if len(cells) else 0.0
    line = np.stack([xs[xs >= 0.0], np.zeros(int(np.count_nonzero(xs >= 0.0)))], axis=1)
    line = line[points_in_polygon(line.astype(np.float32), poly)]
    front = float(line[:, 0].max()) + _CELL_M / 2 if len(line) else 0.0
    ahead = visible_columns(cfg, line)
    nearest = float(line[ahead, 0].min()) - _CELL_M / 2 if ahead.any() else math.inf
    return ZoneVisibility(zone.name, fraction, front, nearest)


def braking_distance(cfg: ControlConfig) -> float:
    """Distance to stop from ``limits.max_vx``: reaction travel plus v^2 / (2 decel) [m]."""
    v, a = cfg.limits.max_vx, cfg.limits.max_linear_decel
    return v * cfg.depth.reaction_s + v * v / (2.0 * a)


def visibility_report(cfg: ControlConfig) -> VisibilityReport:
    """The visibility of every enabled zone, with a warning when the stop zone is mostly blind."""
    zones = tuple(_zone_visibility(cfg, z) for z in ZoneChecker.from_config(cfg.zones).zones)
    braking = braking_distance(cfg)
    warnings = []
    for z in zones:
        if z.zone == "stop" and z.visible_ahead_m < braking:
            warnings.append(
                f"the stop zone is mostly blind: the camera sees {z.visible_ahead_m:.2f} m of it ahead of the "
                f"robot, less than the {braking:.2f} m needed to stop from limits.max_vx {cfg.limits.max_vx:.2f} m/s "
                f"at limits.max_linear_decel {cfg.limits.max_linear_decel:.2f} m/s^2; an obstacle can enter it unseen "
                f"(only the obstacle memory stops the robot then). Lower limits.max_vx, extend zones.stop.points "
                f"forward, or mount the camera further back / with a smaller depth.min_range")
    return VisibilityReport(zones, braking, cfg.limits.max_vx, tuple(warnings))


def report_for(robot: str, files: Sequence[str | Path] = ()) -> VisibilityReport:
    """The report for a preset with ROS parameter files applied over it (``control_node`` / ``/**`` sections).

    Raises ParamError for an unreadable file or a bad value, naming the parameter.
    """
    cfg = ControlConfig.for_profile(robot)
    known = {p.name for p in iter_params(ControlConfig)}
    for f in files:
        values = load_ros_params(f, "control_node")
        for k in values:
            # The node's own parameters (obstacle_source ...) have no dots; a dotted one is the core's.
            if k not in known and "." in k:
                near = difflib.get_close_matches(k, list(known), n=1)
                hint = f"; did you mean '{near[0]}'?" if near else ""
                raise ParamError(f"parameter file {f}: unknown parameter '{k}'{hint}")
        cfg = replace(cfg, **{k: v for k, v in values.items() if k in known})
    return visibility_report(cfg)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nav_r1.control.visibility [--robot R] [FILE ...]``: print what the camera sees of each zone."""
    p = argparse.ArgumentParser(prog="python -m nav_r1.control.visibility", description=main.__doc__)
    p.add_argument("--robot", default=None, help="preset (dog, uav, wheeled); default: every preset")
    p.add_argument("files", nargs="*", help="ROS parameter files applied over the preset, in order")
    args = p.parse_args(argv)
    robots = [args.robot] if args.robot else ["dog", "uav", "wheeled"]
    try:
        for robot in robots:
            print(f"{robot}{' + ' + ', '.join(args.files) if args.files else ''}:")
            for line in report_for(robot, args.files).lines():
                print(f"  {line}")
    except ParamError as exc:
        print(f"[error] {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
