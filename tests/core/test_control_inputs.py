"""The control input layer: no message content reaches the core unchecked, and a tick never raises."""

from __future__ import annotations

import math

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped, TwistStamped
from nav_msgs.msg import Odometry as OdometryMsg
from nav_msgs.msg import Path
from rclpy.serialization import serialize_message

from nav_r1.control import ControlConfig, FastController
from nav_r1.control.inputs import (
    ControlInputs,
    InputRejectedError,
    LockStep,
    PlanIntake,
    odometry_from,
    path_length_cdr,
    twist_from,
    yaw_of,
)
from nav_r1.control.types import ControlOutput, ControlState
from r1_core.params import replace
from r1_core.ros.convert import sec_to_stamp, yaw_to_quaternion

CFG = replace(ControlConfig(), **{"timeouts.obstacles_s": 0.0})


def odom(x: float = 0.0, y: float = 0.0, yaw: float = 0.0, vx: float = 0.0, t: float = 1.0) -> OdometryMsg:
    m = OdometryMsg()
    m.header.stamp = sec_to_stamp(t)
    m.header.frame_id = "odom"
    m.pose.pose.position.x, m.pose.pose.position.y = x, y
    m.pose.pose.orientation = yaw_to_quaternion(yaw)
    m.twist.twist.linear.x = vx
    return m


def path(xs: list[float], frame: str = "odom", t: float = 1.0) -> Path:
    p = Path()
    p.header.frame_id = frame
    p.header.stamp = sec_to_stamp(t)
    for x in xs:
        ps = PoseStamped()
        ps.pose.position.x = x
        ps.pose.orientation = yaw_to_quaternion(0.0)
        p.poses.append(ps)
    return p


def test_huge_odometry_is_rejected_naming_the_field() -> None:
    with pytest.raises(InputRejectedError, match=r"odom.pose.position.x = 1e\+308"):
        odometry_from(odom(x=1e308, y=-1e308), CFG.inputs)
    with pytest.raises(InputRejectedError, match=r"odom\.pose\.position\.y"):
        odometry_from(odom(y=float("nan")), CFG.inputs)
    with pytest.raises(InputRejectedError, match=r"odom\.twist\.linear\.x"):
        odometry_from(odom(vx=1e12), CFG.inputs)
    assert odometry_from(odom(x=3.0, yaw=0.5), CFG.inputs).pose.x == 3.0


def test_the_core_never_sees_a_huge_odometry_and_keeps_stepping() -> None:
    """On main, 1e308 odometry reached the core and its step raised (the node died)."""
    core = FastController(CFG)
    inputs = ControlInputs(core)
    inputs.odometry(odom(), 1.0)
    assert inputs.plan(path([0.0, 1.0]), 1.0)
    with pytest.raises(InputRejectedError):
        inputs.odometry(odom(x=1e308, y=-1e308, t=1.01), 1.01)
    for i in range(5):
        out = inputs.tick(1.02 + 0.01 * i)
        assert all(math.isfinite(v) for v in out.twist.as_tuple()) and inputs.last_error == ""


@pytest.mark.parametrize(("q", "why"), [((0.0, 0.0, math.inf, 1.0), "inf"), ((0.0, 0.0, 0.0, 0.0), "zero"),
                                        ((math.nan, 0.0, 0.0, 1.0), "nan")])
def test_non_finite_or_zero_quaternions_are_rejected(q: tuple[float, ...], why: str) -> None:
    p = path([0.0, 1.0])
    o = p.poses[1].pose.orientation
    o.x, o.y, o.z, o.w = q
    with pytest.raises(InputRejectedError, match=r"plan.poses\[1\].pose.orientation"):
        PlanIntake(CFG.inputs).convert(p)


def test_an_unnormalised_quaternion_gives_its_yaw() -> None:
    q = yaw_to_quaternion(0.7)
    q.x, q.y, q.z, q.w = q.x * 3, q.y * 3, q.z * 3, q.w * 3
    assert yaw_of("q", q) == pytest.approx(0.7)


def test_plans_out_of_range_in_another_frame_or_too_big_are_rejected() -> None:
    intake = PlanIntake(CFG.inputs)
    with pytest.raises(InputRejectedError, match=r"plan.poses\[1\].pose.position.x"):
        intake.convert(path([0.0, 1e308]))
    with pytest.raises(InputRejectedError, match="frame_id is 'map'"):
        intake.convert(path([0.0, 1.0], frame="map"))
    big = CFG.inputs.max_plan_poses + 1
    with pytest.raises(InputRejectedError, match=f"plan has {big} poses"):
        intake.convert(path([0.01 * i for i in range(big)]))
    assert len(intake.convert(path([0.0, 1.0])).poses) == 2


@pytest.mark.parametrize("frame", ["", "odom", "a_long_frame_name_x"])
@pytest.mark.parametrize("n", [0, 1, 7, 2501])
def test_the_pose_count_is_read_from_the_serialised_plan(frame: str, n: int) -> None:
    assert path_length_cdr(serialize_message(path([0.0] * n, frame=frame))) == n


def test_the_size_cap_refuses_before_conversion() -> None:
    inputs = ControlInputs(FastController(CFG))
    with pytest.raises(InputRejectedError, match=r"more than inputs\.max_plan_poses"):
        inputs.plan_size(100_000)
    inputs.plan_size(CFG.inputs.max_plan_poses)


def test_plans_are_numbered_by_the_new_ones_only() -> None:
    core = FastController(CFG)
    inputs = ControlInputs(core)
    assert inputs.plan(path([0.0, 1.0], t=1.0), 1.0)
    assert not inputs.plan(path([0.0, 1.0], t=1.0), 1.1)  # the heartbeat of the same plan
    assert inputs.plan(path([0.0, 2.0], t=2.0), 2.0)
    assert core.progress().plan_id == 2


def test_lock_step_holds_plans_until_released_and_acknowledges() -> None:
    acks: list[tuple[str, float]] = []
    core = FastController(CFG)
    inputs = ControlInputs(core, pacing=LockStep(lambda topic, stamp: acks.append((topic, stamp))))
    assert not inputs.plan(path([0.0, 1.0], t=5.0), 0.0)
    assert acks == [("nav_r1/plan", 5.0)]
    inputs.tick(4.9, release=4.9)
    assert core.progress().plan_id == -1  # not yet
    inputs.tick(5.0, release=5.0)
    assert core.progress().plan_id == 1


def test_teleop_values_must_be_finite() -> None:
    m = TwistStamped()
    m.twist.linear.x = math.inf
    with pytest.raises(InputRejectedError, match=r"joy_vel\.linear\.x"):
        twist_from(m, where="joy_vel")


class _BrokenController(FastController):
    """A controller whose step fails: stands in for any bug the input checks did not foresee."""

    def step(self, now: float) -> ControlOutput:
        raise ZeroDivisionError("boom")


def test_a_failing_tick_gives_zero_and_the_loop_runs_on() -> None:
    core = _BrokenController(CFG)
    inputs = ControlInputs(core)
    out = inputs.tick(1.0)
    assert out.twist.is_zero() and out.state is ControlState.ERROR
    assert inputs.last_error == "ZeroDivisionError: boom"
    assert core.limiter.last.is_zero()
    assert inputs.tick(1.01).state is ControlState.ERROR  # and again: never raises


def test_obstacle_points_must_be_n_by_3() -> None:
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        FastController(CFG).evaluate_obstacles(np.zeros((4, 2), dtype=np.float32))
