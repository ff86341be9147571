"""Every node process ends with exit 0, no traceback, for SIGINT, SIGTERM and a second SIGINT during cleanup.

The nodes are started as ``r1_core.runner`` starts them (``python -c <entry point> --ros-args ...``,
each in its own session, so a signal to its process group reaches only it), on the test's private
ROS_DOMAIN_ID. ``ros2 launch`` run without a terminal forwards SIGINT to every node, so a group
Ctrl-C reaches each node twice: the second arrives while the node is cleaning up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import rclpy
from geometry_msgs.msg import TwistStamped
from helpers import wait_for
from rclpy.executors import SingleThreadedExecutor

from r1_core.graph import NodeSpec
from r1_core.ros.convert import sec_to_stamp
from r1_core.runner import command

pytestmark = pytest.mark.ros

#: ros2 launch's default sigterm_timeout: a node still running after this is escalated to SIGKILL.
LAUNCH_ESCALATION_S = 5.0


def _specs(tmp_path: Path) -> list[NodeSpec]:
    replies = tmp_path / "vla_replies.txt"  # one reply per line (a JSON list is refused since issue 14)
    replies.write_text("<think>x</think><output>{}</output>\n")
    return [
        NodeSpec("nav_r1", "control_node", "control_node",
                 parameters={"obstacle_source": "none", "timeouts": {"obstacles_s": 0.0}, "realtime_priority": 0}),
        # A server nobody answers: the health probe and replies fail fast, the node keeps running.
        NodeSpec("nav_r1", "reasoning_node", "reasoning_node",
                 parameters={"backend": "openai:http://127.0.0.1:9/v1", "health_period_s": 0.2}),
        NodeSpec("nav_r1", "obstacle_node", "obstacle_node"),
        NodeSpec("stereo_adapter", "stereo_node", "stereo_node"),
        NodeSpec("r1_sim", "sim_bridge", "sim_bridge", parameters={"robot": "wheeled", "publish_stereo": False}),
        NodeSpec("vla_r1", "vla_node", "vla_node", parameters={"backend": f"scripted:{replies}"}),
        NodeSpec("vla_r1", "joint_command_node", "joint_command_node"),
    ]


def _start(specs: list[NodeSpec], tmp_path: Path) -> dict[str, subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs = {}
    for spec in specs:
        cmd = command(spec, "", "info", tmp_path / "params")
        procs[spec.name] = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                            text=True, start_new_session=True)
    return procs


@pytest.mark.parametrize("signals", [(signal.SIGINT, signal.SIGINT), (signal.SIGTERM,)],
                         ids=["sigint-twice", "sigterm"])
def test_every_node_exits_cleanly_and_control_ends_on_zero(tmp_path, ros_context, signals) -> None:
    node = rclpy.create_node("shutdown_test", context=ros_context)
    cmds: list[tuple[float, float, float]] = []
    lock = threading.Lock()

    def on_cmd(m: TwistStamped) -> None:
        with lock:
            cmds.append((m.twist.linear.x, m.twist.linear.y, m.twist.angular.z))

    node.create_subscription(TwistStamped, "cmd_vel", on_cmd, 50)
    joy = node.create_publisher(TwistStamped, "joy_vel", 10)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    specs = _specs(tmp_path)
    procs = _start(specs, tmp_path)
    try:
        names = {s.name for s in specs}
        up = wait_for(lambda: names <= set(node.get_node_names()) or any(p.poll() is not None
                                                                           for p in procs.values()), 90.0)
        early = {n: p.poll() for n, p in procs.items() if p.poll() is not None}
        assert up and not early, f"nodes not up: missing {names - set(node.get_node_names())}, exited {early}"

        # Drive the control node with the joystick, so its output is not zero when the signal comes.
        def moving() -> bool:
            msg = TwistStamped()
            msg.header.stamp = sec_to_stamp(time.time())
            msg.twist.linear.x = 0.3
            joy.publish(msg)
            with lock:
                return bool(cmds) and cmds[-1][0] > 0.05
        assert wait_for(moving, 30.0), f"control_node never moved: {cmds[-5:]}"

        for i, sig in enumerate(signals):
            if i:
                time.sleep(0.15)  # the nodes are cleaning up now
            for p in procs.values():
                if p.poll() is None:
                    os.killpg(p.pid, sig)
        results: dict[str, tuple[int | None, str]] = {}
        deadline = time.monotonic() + LAUNCH_ESCALATION_S
        for name, p in procs.items():
            try:
                _, err = p.communicate(timeout=max(0.1, deadline - time.monotonic()))
                results[name] = (p.returncode, err)
            except subprocess.TimeoutExpired:
                results[name] = (None, "still running after the escalation time")
        # Everything published was acknowledged before the control node exited; let the callbacks drain.
        time.sleep(0.5)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.communicate()
        executor.shutdown()
        node.destroy_node()
    bad = {n: (rc, err[-2000:]) for n, (rc, err) in results.items() if rc != 0 or "Traceback" in err}
    assert not bad, f"unclean exits: {bad}"
    with lock:
        last = cmds[-1]
    assert last == (0.0, 0.0, 0.0), f"last cmd_vel {last}, previous {cmds[-5:]}"


def test_a_stop_during_start_up_is_a_clean_exit(tmp_path: Path) -> None:
    """A graph that stops while a node is still importing (another node failed at once) ends it with 0.

    The signal lands well inside the reasoning node's imports (rclpy, the simulator's expert,
    transformers' chat templates take seconds): before the early-signal guard it died there with
    a KeyboardInterrupt traceback and exit -2.
    """
    spec = NodeSpec("nav_r1", "reasoning_node", "reasoning_node",
                    parameters={"backend": "openai:http://127.0.0.1:9/v1"})
    procs = _start([spec], tmp_path)
    proc = procs["reasoning_node"]
    time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=LAUNCH_ESCALATION_S * 4)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err, err[-2000:]


def test_the_early_signal_guard_installs_before_any_heavy_import() -> None:
    """The runner's first statement in a node process imports only the standard library.

    A SIGINT 0.2 s after spawn landed inside NumPy's import (r1_core's package ``__init__`` used to
    import the reasoner types eagerly) on a loaded machine: a traceback instead of exit 0.
    """
    code = ("import sys, r1_core.early_signals; "
            "print(sorted(m for m in ('numpy', 'rclpy', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout
