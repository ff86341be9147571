"""Hostile messages through the real control node: none may kill it or stop cmd_vel (issue 12, 1-3).

On main, one odometry message at x = 1e308 killed the process (a non-finite twist raised in the
timer), a plan pose with a quaternion z = inf was accepted, and a 100,000-pose plan was converted
on the loop's executor and held cmd_vel for seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path as FsPath

import pytest
import rclpy
from geometry_msgs.msg import PoseStamped, TwistStamped
from helpers import wait_for
from nav_msgs.msg import Odometry, Path
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import String

from r1_core.ros.convert import sec_to_stamp, yaw_to_quaternion
from r1_core.ros.qos import RELIABLE_QOS

pytestmark = pytest.mark.ros

ROOT = FsPath(__file__).resolve().parents[2]


def _plan(xs: list[float], stamp: float) -> Path:
    p = Path()
    p.header.frame_id = "odom"
    p.header.stamp = sec_to_stamp(stamp)
    for x in xs:
        ps = PoseStamped()
        ps.pose.position.x = x
        ps.pose.orientation = yaw_to_quaternion(0.0)
        p.poses.append(ps)
    return p


def test_hostile_odometry_and_plans_are_refused_and_cmd_vel_keeps_flowing(ros_context) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "nav_r1.nodes.control_node", "--ros-args", "-p", "obstacle_source:=none",
         "-p", "timeouts.obstacles_s:=0.0", "-p", "realtime_priority:=0"],
        cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    node = rclpy.create_node("hostile_test", context=ros_context)
    cmds: list[tuple[float, float]] = []
    plan_ids: list[int] = []
    lock = threading.Lock()

    def on_cmd(m: TwistStamped) -> None:
        with lock:
            cmds.append((time.monotonic(), m.twist.linear.x))

    node.create_subscription(TwistStamped, "cmd_vel", on_cmd, RELIABLE_QOS)
    node.create_subscription(String, "nav_r1/control_state",
                             lambda m: plan_ids.append(json.loads(m.data)["plan_id"]), RELIABLE_QOS)
    odom_pub = node.create_publisher(Odometry, "odom", RELIABLE_QOS)
    plan_pub = node.create_publisher(Path, "nav_r1/plan", RELIABLE_QOS)
    hostile = {"odom": False}

    def publish_odom() -> None:
        od = Odometry()
        od.header.stamp = sec_to_stamp(time.time())
        od.header.frame_id = "odom"
        od.pose.pose.orientation = yaw_to_quaternion(0.0)
        if hostile["odom"]:
            od.pose.pose.position.x, od.pose.pose.position.y = 1e308, -1e308
        odom_pub.publish(od)

    node.create_timer(0.02, publish_odom)
    ex = SingleThreadedExecutor(context=ros_context)
    ex.add_node(node)
    spin = threading.Thread(target=ex.spin, daemon=True)
    spin.start()

    def n_cmds() -> int:
        with lock:
            return len(cmds)

    def flowing(what: str, more: int = 50) -> None:
        start = n_cmds()
        wait_for(lambda: n_cmds() >= start + more or proc.poll() is not None, 30.0, f"cmd_vel after {what}")
        assert proc.poll() is None, f"control_node exited ({proc.returncode}) after {what}"

    huge = _plan([0.01 * i for i in range(100_000)], time.time())  # built before the clock matters
    out = ""
    try:
        wait_for(lambda: n_cmds() > 10, 60.0, "cmd_vel from the control node")
        plan_pub.publish(_plan([0.0, 5.0], time.time()))
        wait_for(lambda: n_cmds() > 0 and cmds[-1][1] > 0.2, 20.0, "the good plan to drive")

        hostile["odom"] = True  # every odometry message is now x = 1e308, y = -1e308
        flowing("odometry at 1e308")
        hostile["odom"] = False
        far = _plan([0.0, 1e308], time.time())
        far.poses[0].pose.position.y = -1e308
        plan_pub.publish(far)
        flowing("a plan at +-1e308")
        bad_q = _plan([0.0, 1.0], time.time())
        bad_q.poses[1].pose.orientation.z = float("inf")
        plan_pub.publish(bad_q)
        flowing("a plan with quaternion z = inf")
        plan_pub.publish(huge)
        flowing("a 100,000-pose plan", more=100)
        with lock:
            assert max(plan_ids) == 1, plan_ids  # no hostile plan replaced the good one
            assert cmds[-1][1] > 0.0  # and it is still being followed
    finally:
        ex.shutdown(timeout_sec=2.0)
        spin.join(timeout=2.0)
        node.destroy_node()
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        print(out)
    assert "dropped odometry: odom.pose.position.x = 1e+308" in out
    assert "dropped a plan: plan.poses[0].pose.position.y = -1e+308" in out
    assert "dropped a plan: plan.poses[1].pose.orientation" in out
    assert "dropped a plan: plan has 100000 poses, more than inputs.max_plan_poses" in out
