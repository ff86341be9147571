"""MoveIt execution sequencing against a fake of the documented moveit_py interface.

moveit_py itself is not installable here; these tests check what we send it, not MoveIt.
"""

import sys
import types

import numpy as np
import pytest

from vla_r1.moveit_backend import MoveItExecutor, moveit_available
from vla_r1.planner import MotionPlan


class FakeRobotState:
    def __init__(self, model):
        self.model = model
        self.groups = {}

    def set_joint_group_positions(self, group, positions):
        self.groups[group] = np.asarray(positions)


@pytest.fixture
def fake_moveit(monkeypatch):
    # moveit.core.robot_state.RobotState is imported lazily by the executor.
    mods = {name: types.ModuleType(name) for name in ("moveit", "moveit.core", "moveit.core.robot_state")}
    mods["moveit.core.robot_state"].RobotState = FakeRobotState
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)


class Result:
    def __init__(self, trajectory):
        self.trajectory = trajectory

    def __bool__(self):
        return self.trajectory is not None


class Component:
    def __init__(self, group, log, fail_on=None):
        self.group, self.log, self.fail_on = group, log, fail_on
        self.goal = None

    def set_start_state_to_current_state(self):
        self.log.append((self.group, "start"))

    def set_goal_state(self, **kwargs):
        self.goal = kwargs
        self.log.append((self.group, "goal", kwargs))

    def plan(self):
        pose = self.goal.get("pose_stamped_msg")
        if pose is not None and self.fail_on is not None and pose.pose.position.z < self.fail_on:
            return Result(None)
        return Result(f"traj-{len(self.log)}")


class FakeMoveItPy:
    def __init__(self, fail_below_z=None):
        self.log = []
        self.components = {}
        self.fail = fail_below_z

    def get_planning_component(self, group):
        self.components[group] = Component(group, self.log, self.fail if group == "arm" else None)
        return self.components[group]

    def get_robot_model(self):
        return "model"

    def execute(self, trajectory, controllers):
        self.log.append(("execute", trajectory, tuple(controllers)))


def grasp_plan():
    t = {
        "approach": np.array([0.4, 0.0, 0.13]),
        "grasp": np.array([0.4, 0.0, 0.03]),
        "lift": np.array([0.4, 0.0, 0.13]),
    }
    return MotionPlan(True, "affordance", targets=t)


def test_affordance_sequence(fake_moveit):
    m = FakeMoveItPy()
    err = MoveItExecutor(moveit=m).execute(grasp_plan(), 0.04, 0.0)
    assert err == ""
    goals = [e for e in m.log if e[1] == "goal"]
    assert [g[0] for g in goals] == ["gripper", "arm", "arm", "gripper", "arm"]
    grasp = goals[2][2]
    assert grasp["pose_link"] == "tcp_link"
    assert grasp["pose_stamped_msg"].pose.position.z == pytest.approx(0.03)
    assert grasp["pose_stamped_msg"].pose.orientation.x == 1.0  # tcp z pointing down
    closed = goals[3][2]["robot_state"].groups["gripper"]
    np.testing.assert_allclose(closed, [0.0])
    assert sum(e[0] == "execute" for e in m.log) == 5


def test_planning_failure_stops_the_sequence(fake_moveit):
    m = FakeMoveItPy(fail_below_z=0.05)
    err = MoveItExecutor(moveit=m).execute(grasp_plan(), 0.04, 0.0)
    assert "no plan to the grasp pose" in err
    assert sum(e[0] == "execute" for e in m.log) == 2  # gripper open, approach; nothing after


def test_trajectory_and_refused_plans():
    m = FakeMoveItPy()
    path = MotionPlan(True, "trajectory", targets={"path": np.array([[0.3, 0.0, 0.1], [0.4, 0.1, 0.1]])})
    assert MoveItExecutor(moveit=m).execute(path, 0.04, 0.0) == ""
    assert sum(e[0] == "execute" for e in m.log) == 2
    assert "nothing to execute" in MoveItExecutor(moveit=m).execute(MotionPlan.refuse("trajectory", "x"), 0.04, 0.0)


def test_without_moveit_py_the_executor_says_so():
    if moveit_available():
        pytest.skip("moveit_py is installed here")
    with pytest.raises(RuntimeError, match="moveit_py"):
        MoveItExecutor()
