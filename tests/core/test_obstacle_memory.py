"""The blind stop zone: obstacle memory, "too close to see" frames and the start-up visibility check."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from nav_msgs.msg import Odometry as OdometryMsg

from nav_r1.control import ControlConfig, FastController
from nav_r1.control.inputs import ObstacleSource, odometry_from
from nav_r1.control.types import ZoneAction
from nav_r1.control.visibility import report_for, visibility_report, visible_columns
from r1_core.params import ParamError, replace
from r1_core.ros.convert import make_camera_info, numpy_to_image, sec_to_stamp, yaw_to_quaternion

W, H = 160, 120
K = np.array([[100.0, 0.0, 79.5], [0.0, 100.0, 59.5], [0.0, 0.0, 1.0]])
WHEELED = ControlConfig.for_profile("wheeled")  # camera 0.175 m ahead of base_link, min_range 0.1 m


def frame(depth: float, t: float) -> object:
    return numpy_to_image(np.full((H, W), depth, dtype=np.float32), "32FC1", t, "camera")


def source(cfg: ControlConfig = WHEELED) -> ObstacleSource:
    s = ObstacleSource(cfg, "depth")
    s.camera_info(make_camera_info(K, W, H, "camera", 0.0))
    return s


def at(src: ObstacleSource, x: float = 0.0, yaw: float = 0.0, t: float = 0.0) -> None:
    m = OdometryMsg()
    m.header.stamp = sec_to_stamp(t)
    m.pose.pose.position.x = x
    m.pose.pose.orientation = yaw_to_quaternion(yaw)
    src.odometry(odometry_from(m, WHEELED.inputs))


def action(points: np.ndarray, cfg: ControlConfig = WHEELED) -> ZoneAction:
    return FastController(cfg).evaluate_obstacles(points, filtered=True).action


def test_a_wall_below_min_range_stays_an_obstacle() -> None:
    """On main a frame of zeros (a RealSense below its minimum range) read as clear."""
    src = source()
    at(src)
    near = src.depth(frame(0.15, 1.0))  # x = 0.325 m: inside the 0.37 m stop zone
    assert near is not None and action(near.points) is ZoneAction.STOP
    blind = src.depth(frame(0.0, 1.1))
    assert blind is not None and blind.blind and blind.remembered > 0
    assert action(blind.points) is ZoneAction.STOP


def test_remembered_points_move_with_odometry() -> None:
    src = source()
    at(src)
    first = src.depth(frame(0.15, 1.0))
    assert first is not None
    x0 = float(first.points[:, 0].mean())
    at(src, x=0.05, t=1.05)
    later = src.depth(frame(0.0, 1.1))
    assert later is not None and later.remembered == len(later.points)
    assert float(later.points[:, 0].mean()) == pytest.approx(x0 - 0.05, abs=0.02)


def test_a_point_is_forgotten_when_the_camera_sees_past_it() -> None:
    src = source()
    at(src)
    src.depth(frame(0.15, 1.0))
    clear = src.depth(frame(3.0, 1.1))  # the obstacle went: the camera sees 3 m at those pixels
    assert clear is not None and clear.remembered == 0 and action(clear.points) is ZoneAction.CLEAR


def test_out_of_view_points_are_kept_until_hold_s() -> None:
    src = source()
    at(src)
    src.depth(frame(0.15, 1.0))
    at(src, yaw=math.pi / 2, t=1.05)  # turned left: the obstacle is now beside the base, unseen
    beside = src.depth(frame(3.0, 1.1))
    assert beside is not None and beside.remembered > 0
    assert float(np.abs(beside.points[:, 1]).min()) > 0.2  # on the right, not ahead
    expired = src.depth(frame(3.0, 1.0 + WHEELED.memory.hold_s + 0.1))
    assert expired is not None and expired.remembered == 0


def test_all_invalid_frames_without_a_near_obstacle_are_clear() -> None:
    src = source()
    at(src)
    empty = src.depth(frame(0.0, 1.0))
    assert empty is not None and not empty.blind and action(empty.points) is ZoneAction.CLEAR


def test_without_memory_a_blind_frame_still_holds_the_last_points() -> None:
    cfg = replace(WHEELED, **{"memory.enabled": False})
    src = source(cfg)
    src.depth(frame(0.15, 1.0))
    blind = src.depth(frame(float("nan"), 1.1))
    assert blind is not None and blind.blind and action(blind.points, cfg) is ZoneAction.STOP
    seen = src.depth(frame(3.0, 1.2))
    assert seen is not None and not seen.blind and action(seen.points, cfg) is ZoneAction.CLEAR


def test_memory_is_bounded() -> None:
    cfg = replace(WHEELED, **{"memory.max_points": 50})
    src = source(cfg)
    at(src)
    src.depth(frame(0.15, 1.0))
    assert src.memory is not None and len(src.memory) <= 50


def test_visibility_of_columns() -> None:
    xy = np.array([[0.5, 0.0], [0.2, 0.0], [-0.5, 0.0], [0.5, 3.0]])
    assert visible_columns(WHEELED, xy).tolist() == [True, False, False, False]


def test_old_wheeled_defaults_warn_and_the_shipped_wheeled_and_uav_presets_do_not() -> None:
    old = visibility_report(ControlConfig())  # stop zone to 0.35 m, max_vx 0.5 m/s
    assert old.warnings and "mostly blind" in old.warnings[0]
    for robot in ("wheeled", "uav"):
        rep = visibility_report(ControlConfig.for_profile(robot))
        stop = next(z for z in rep.zones if z.zone == "stop")
        assert not rep.warnings and stop.visible_ahead_m >= rep.braking_m, robot
    # The dog's camera sits behind its nose and its stop zone is capped by the planner's clearance.
    assert visibility_report(ControlConfig.for_profile("dog")).warnings


def test_the_check_reads_a_users_params_file(tmp_path: Path) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text("control_node:\n  ros__parameters:\n    obstacle_source: depth\n    limits:\n      max_vx: 1.5\n")
    rep = report_for("wheeled", [f])
    assert rep.max_vx == 1.5 and rep.warnings
    f.write_text("control_node:\n  ros__parameters:\n    limits:\n      max_vxx: 1.5\n")
    with pytest.raises(ParamError, match=r"did you mean 'limits\.max_vx'"):
        report_for("wheeled", [f])


def test_a_frame_is_placed_with_the_pose_stamped_before_it() -> None:
    """Lock-step delivers a tick's odometry and depth in either order: the memory must not care."""
    a, b = source(), source()
    at(a)
    at(b)
    a.depth(frame(0.15, 1.0))
    b.depth(frame(0.15, 1.0))
    at(a, x=0.05, t=1.1)  # this tick's odometry before its frame in one run ...
    first = a.depth(frame(0.0, 1.1))
    second = b.depth(frame(0.0, 1.1))  # ... after it in the other
    at(b, x=0.05, t=1.1)
    assert first is not None and second is not None
    assert np.array_equal(first.points, second.points)
