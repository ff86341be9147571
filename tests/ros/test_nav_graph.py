"""The reasoning and control nodes as separate processes, with a kinematic robot in the test.

Instruction in -> plan out -> velocity commands out; teleop and the e_stop lock win within one
control period; killing the reasoning process stops the robot within the plan timeout.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import yaml
from fake_robot import robot_with_graph
from geometry_msgs.msg import TwistStamped
from helpers import wait_for
from std_msgs.msg import Bool, String

from nav_r1.graph import build_graph, robot_params_file
from r1_core.ros.convert import sec_to_stamp

pytestmark = pytest.mark.ros

REPLY = "<think>The corridor ahead is clear.</think><action>move forward 25cm</action>"


@pytest.fixture
def graph(tmp_path: Path, ros_context):
    replies = tmp_path / "replies.txt"
    replies.write_text(REPLY + "\n")
    # The control loop's own settings come from the robot's file; only obstacle source is the depth image.
    specs = build_graph({"robot": "wheeled", "reasoner": f"scripted:{replies}", "depth": "none"})
    with robot_with_graph(specs, tmp_path, ros_context) as running:
        yield running


def _trace(robot, t0: float) -> str:
    """What the control node said from ``t0`` on: states and safety events, relative times."""
    states = [(round(t - t0, 3), s["source"], s["state"], s["plan_id"]) for t, s in list(robot.states) if t >= t0 - 1.0]
    events = [(round(t - t0, 3), e) for t, e in list(robot.events) if t >= t0 - 1.0]
    delays = sorted(robot.cmd_delays)
    late = f"cmd_vel delivery p50 {delays[len(delays) // 2]:.4f} s max {delays[-1]:.4f} s" if delays else ""
    plans = [round(t - t0, 3) for t in list(robot.plan_times) if t >= t0 - 1.0]
    return f"{late} plans at {plans} states={states} events={events}"


def test_instruction_plan_velocity_teleop_estop_and_reasoner_death(graph) -> None:
    g, robot = graph
    plan_timeout = yaml.safe_load(Path(robot_params_file("wheeled")).read_text())[
        "/**/control_node"]["ros__parameters"]["timeouts"]["plan_s"]

    # Instruction in -> plan out (odom frame, start pose + one 25 cm step) -> forward velocity out.
    assert wait_for(lambda: robot.node.count_subscribers("nav_r1/instruction") > 0, 20.0), "reasoning node not up"
    robot.instr_pub.publish(String(data="go down the corridor"))
    assert wait_for(lambda: robot.plans, 20.0), "no plan published"
    plan = robot.plans[0]
    assert plan.header.frame_id == "odom" and len(plan.poses) == 2
    step = plan.poses[1].pose.position.x - plan.poses[0].pose.position.x
    assert step == pytest.approx(0.25, abs=1e-6)
    # The status follows the plan on its own topic: wait for it rather than assume it came first.
    assert wait_for(lambda: any(s.get("actions") == ["move forward 25cm"] for s in robot.status), 5.0), \
        f"no status with the plan's actions: {robot.status}"
    assert wait_for(lambda: any(c[1] > 0.05 for c in robot.cmds), 10.0), "no forward command"

    # Teleop wins: the command follows the joystick (ramped by the acceleration limit) within the
    # ramp time plus a loose allowance for DDS delivery on a loaded machine. "Within one control
    # period of arrival" is proved with a controlled clock in tests/core/test_control_safety.py.
    limits = yaml.safe_load(Path(robot_params_file("wheeled")).read_text())[
        "/**/control_node"]["ros__parameters"]["limits"]
    ramp_s = (0.7 + 0.5) / limits["max_angular_accel"]  # from as low as -0.5 rad/s up to 0.7
    t = time.monotonic()
    joy = TwistStamped()
    joy.twist.angular.z = 0.7

    def followed() -> tuple[float, float, float] | None:
        return next((c for c in list(robot.cmds) if c[0] >= t and abs(c[2] - 0.7) < 0.2), None)

    while followed() is None and time.monotonic() - t < 3.0:
        joy.header.stamp = sec_to_stamp(time.time())
        robot.joy_pub.publish(joy)
        time.sleep(0.01)
    first = followed()
    assert first is not None, f"teleop never won: {_trace(robot, t)}"
    assert first[0] - t < ramp_s + 0.5, f"teleop took {first[0] - t:.3f} s to reach cmd_vel"

    # e_stop: zero, and zero for as long as the lock is held. "The next tick after the lock arrives is
    # zero" is proved with a controlled clock in tests/core/test_control_safety.py; here the latency
    # also holds DDS delivery and process scheduling, which a loaded 2-core CI machine stretches
    # past a control period, so the bound is loose and the hold is what is checked.
    t = time.monotonic()
    robot.estop_pub.publish(Bool(data=True))
    assert wait_for(lambda: any(c[0] > t and c[1] == 0.0 and c[2] == 0.0 for c in list(robot.cmds)), 2.0), \
        "e_stop did not zero the command"
    first_zero = next(c[0] for c in list(robot.cmds) if c[0] > t and c[1] == 0.0 and c[2] == 0.0)
    assert first_zero - t < 0.5, f"e_stop took {first_zero - t:.3f} s to reach cmd_vel: {_trace(robot, t)}"
    time.sleep(0.3)
    held = [c for c in list(robot.cmds) if c[0] >= first_zero]
    assert len(held) > 10 and all(c[1] == 0.0 and c[2] == 0.0 for c in held), "motion while e_stop was held"
    robot.estop_pub.publish(Bool(data=False))
    assert wait_for(lambda: any(c[1] > 0.05 for c in robot.cmds if c[0] > time.monotonic() - 0.2), 10.0), \
        "navigation did not resume after the e_stop was released"

    # Kill the reasoning process: no more plan heartbeats, the robot stops within the plan timeout.
    proc = g.process("reasoning_node").popen
    proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    proc.wait(timeout=5.0)
    assert wait_for(lambda: robot.cmds and robot.cmds[-1][0] > killed and robot.cmds[-1][1] == 0.0
                 and robot.cmds[-1][2] == 0.0, plan_timeout + 3.0)
    stopped_at = next(c[0] for c in robot.cmds if c[0] > killed and c[1] == 0.0 and c[2] == 0.0
                      and all(d[1] == 0.0 for d in robot.cmds if d[0] >= c[0]))
    # Within the plan timeout plus the deceleration ramp from cruise speed.
    after = [(round(c[0] - killed, 3), round(c[1], 3), round(c[2], 3)) for c in list(robot.cmds) if c[0] > killed]
    assert stopped_at - killed <= plan_timeout + 1.0, \
        f"stopped {stopped_at - killed:.3f} s after the kill: {after[::5]} {_trace(robot, killed)}"
