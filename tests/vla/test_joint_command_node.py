"""The joint-command node in its own process over a private ROS_DOMAIN_ID: stream, then e_stop."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy")

from builtin_interfaces.msg import Duration  # noqa: E402
from helpers import wait_for  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Bool  # noqa: E402
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint  # noqa: E402

from r1_core.ros.qos import RELIABLE_QOS  # noqa: E402

pytestmark = pytest.mark.ros

ROOT = Path(__file__).resolve().parents[2]
JOINTS = [
    "shoulder_pan_joint",
    "shoulder_lift_joint",
    "elbow_joint",
    "wrist_1_joint",
    "wrist_2_joint",
    "wrist_3_joint",
    "left_finger_joint",
]




@pytest.fixture
def node_proc():
    from r1_core.ros.node_main import use_default_dds_profile

    use_default_dds_profile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vla_r1.nodes.joint_command_node", "--ros-args", "-p", "rate_hz:=100.0"],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield proc
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    print(out)


def test_streams_a_trajectory_and_e_stop_holds_at_once(node_proc):
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = rclpy.create_node("vla_joint_test", context=ctx)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    try:
        got: list[tuple[float, list[float], list[float]]] = []
        lock = threading.Lock()
        # A perfect fake arm: its joint state is the last command (or zero before any).
        state = {"q": [0.0] * 7}

        def on_cmd(msg: JointState) -> None:
            with lock:
                got.append((time.monotonic(), list(msg.position), list(msg.velocity)))
                state["q"] = list(msg.position)

        node.create_subscription(JointState, "joint_commands", on_cmd, RELIABLE_QOS)
        js_pub = node.create_publisher(JointState, "joint_states", RELIABLE_QOS)
        traj_pub = node.create_publisher(JointTrajectory, "arm_controller/joint_trajectory", RELIABLE_QOS)
        stop_pub = node.create_publisher(Bool, "e_stop", RELIABLE_QOS)

        def publish_state() -> None:
            with lock:
                q = list(state["q"])
            node.get_clock()
            js_pub.publish(JointState(name=JOINTS, position=q))

        node.create_timer(0.02, publish_state)
        # The node holds the measured state once it has one.
        wait_for(lambda: len(got) > 20, 120.0, "hold commands at the measured state")
        wait_for(
            lambda: traj_pub.get_subscription_count() > 0 and stop_pub.get_subscription_count() > 0,
            60.0,
            "the node's subscriptions",
        )
        assert all(abs(v) < 1e-12 for v in got[-1][1])

        # Pan 0 -> 0.6 rad over 5 s (long enough to stop mid-way on a loaded machine), arm joints
        # only: the gripper is left out and must hold.
        msg = JointTrajectory(joint_names=JOINTS[:6])
        for t, pan in ((0.0, 0.0), (2.5, 0.3), (5.0, 0.6)):
            sec = int(t)
            msg.points.append(
                JointTrajectoryPoint(
                    positions=[pan, 0, 0, 0, 0, 0], time_from_start=Duration(sec=sec, nanosec=int((t - sec) * 1e9))
                )
            )
        with lock:
            start = len(got)
        traj_pub.publish(msg)
        wait_for(lambda: got[-1][1][0] > 0.1, 60.0, "the pan joint to stream past 0.1 rad")
        with lock:
            streamed = [g[1][0] for g in got[start:]]
            rate_window = [g[0] for g in got[start:]]
        assert all(b >= a - 1e-9 for a, b in itertools.pairwise(streamed)), "pan must rise monotonically"
        assert len(set(round(p, 6) for p in streamed)) > 5, "several distinct set-points streamed"
        assert len(rate_window) >= 5

        # E-stop mid-motion: from then on every command is one constant hold with zero velocity.
        stop_pub.publish(Bool(data=True))
        t_stop = time.monotonic()
        wait_for(lambda: sum(g[0] > t_stop + 0.1 for g in got) > 10, 60.0, "hold commands after the e-stop")
        with lock:
            after = [g for g in got if g[0] > t_stop + 0.1]
        held = after[0][1]
        assert held[0] < 0.6 - 1e-3, "stopped before the end of the motion"
        assert all(g[1] == held for g in after) and all(v == 0.0 for g in after for v in g[2])
        # A new trajectory is refused while the lock is engaged.
        traj_pub.publish(msg)
        time.sleep(0.3)
        with lock:
            assert all(g[1] == held for g in got if g[0] > t_stop + 0.1)
        # Released: still holding (no resumption of the dropped motion).
        stop_pub.publish(Bool(data=False))
        time.sleep(0.3)
        with lock:
            assert got[-1][1] == held
    finally:
        executor.shutdown()
        spin.join(timeout=5)
        node.destroy_node()
        rclpy.shutdown(context=ctx)
