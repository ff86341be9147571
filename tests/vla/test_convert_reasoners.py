"""JointTrajectory conversion and the reasoner factory, without a running ROS graph."""

import json

import numpy as np
import pytest

pytest.importorskip("trajectory_msgs")

from builtin_interfaces.msg import Duration
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from r1_core.backends.scripted import ScriptedVLM
from r1_core.params import ParamError
from r1_core.reasoner import Frame, Observation
from vla_r1.nodes.convert import msg_to_trajectory, trajectory_to_msg
from vla_r1.reasoners import make_reasoner
from vla_r1.timing import time_parametrize

NAMES = ("a", "b", "c")


def point(t, q):
    sec = int(t)
    return JointTrajectoryPoint(positions=list(q), time_from_start=Duration(sec=sec, nanosec=int((t - sec) * 1e9)))


def test_round_trip_and_reordering():
    tr = time_parametrize(np.array([[0.0, 0.0, 0.0], [0.5, -0.2, 0.1]]), np.ones(3), np.ones(3))
    msg = trajectory_to_msg(NAMES, tr)
    back = msg_to_trajectory(msg, NAMES, None)
    np.testing.assert_allclose(back.times, tr.times, atol=1e-9)
    np.testing.assert_allclose(back.positions, tr.positions)
    # Joints given in another order, one left out: it holds the current value; a start at t > 0
    # is prefixed with the current state at t = 0.
    msg2 = JointTrajectory(joint_names=["c", "a"], points=[point(1.0, [0.3, 0.1])])
    t2 = msg_to_trajectory(msg2, NAMES, np.array([0.0, 7.0, 0.0]))
    np.testing.assert_allclose(t2.positions, [[0.0, 7.0, 0.0], [0.1, 7.0, 0.3]])
    np.testing.assert_allclose(t2.times, [0.0, 1.0])


@pytest.mark.parametrize(
    ("names", "points", "current", "why"),
    [
        (["a", "z"], [[0, 0]], None, "unknown joints"),
        (["a", "a"], [[0, 0]], None, "twice"),
        (["a"], [], None, "no points"),
        (["a"], [[0]], None, "no joint state"),
        (["a", "b", "c"], [[0, 0]], None, "positions for 3 joints"),
    ],
)
def test_bad_trajectories_are_refused(names, points, current, why):
    msg = JointTrajectory(joint_names=names, points=[point(0.1 * (i + 1), p) for i, p in enumerate(points)])
    with pytest.raises(ValueError, match=why):
        msg_to_trajectory(msg, NAMES, current)


def test_times_must_increase():
    msg = JointTrajectory(joint_names=list(NAMES), points=[point(1.0, [0, 0, 0]), point(1.0, [1, 1, 1])])
    with pytest.raises(ValueError, match="increase"):
        msg_to_trajectory(msg, NAMES, None)


def test_scripted_reasoner_and_factory(tmp_path):
    """The arm uses the shared scripted format (one reply per line) with its own prompt; reset restarts."""
    f = tmp_path / "r.txt"
    f.write_text("one\ntwo\n")
    r = make_reasoner(f"scripted:{f}")
    obs = Observation("x", Frame(np.zeros((4, 4, 3), np.uint8)), extra={"task": "affordance"})
    assert [r.infer(obs).text for _ in range(3)] == ["one", "two", "two"]
    r.reset()
    assert r.infer(obs).text == "one"
    bad_task = r.infer(Observation("x", Frame(np.zeros((4, 4, 3), np.uint8))))
    assert not bad_task.ok and "task" in (bad_task.error or "")
    with pytest.raises(ParamError, match="unknown reasoner kind 'expert'"):
        make_reasoner("expert")
    with pytest.raises(ParamError, match="cannot read"):
        make_reasoner(f"scripted:{tmp_path / 'missing.txt'}")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(["one", "two"]))
    with pytest.raises(ParamError, match="JSON list"):
        make_reasoner(f"scripted:{old}")
    with pytest.raises(ParamError, match="at least one reply"):
        ScriptedVLM([])
