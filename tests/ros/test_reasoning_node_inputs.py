"""The reasoning node in its own process against hostile inputs: NaN odometry, a long reply, a
model server that trickles its reply. None may end the node or wedge it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import rclpy
from helpers import wait_for
from http_servers import RawServer, trickle
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import Image
from std_msgs.msg import String

from r1_core.reasoning_status import ReasoningState, ReasoningStatus
from r1_core.ros.convert import numpy_to_image, sec_to_stamp
from r1_core.ros.qos import RELIABLE_QOS, SENSOR_QOS

pytestmark = pytest.mark.ros


def _feeder(ctx):
    """A test node that feeds camera and odometry at 10 Hz and collects nav_r1/status."""
    node = rclpy.create_node("reasoning_inputs_test", context=ctx)
    statuses: list[ReasoningStatus] = []
    node.create_subscription(String, "nav_r1/status", lambda m: statuses.append(ReasoningStatus.from_json(m.data)),
                             RELIABLE_QOS)
    node.instr = node.create_publisher(String, "nav_r1/instruction", RELIABLE_QOS)
    node.odom = node.create_publisher(Odometry, "odom", RELIABLE_QOS)
    color = node.create_publisher(Image, "camera/color/image_raw", SENSOR_QOS)
    node.nan_odom = False

    def feed() -> None:
        t = node.get_clock().now().nanoseconds * 1e-9
        now = sec_to_stamp(t)
        color.publish(numpy_to_image(np.zeros((32, 32, 3), np.uint8), "rgb8", t, "camera_color_optical_frame"))
        od = Odometry()
        od.header.stamp = now
        od.pose.pose.orientation.w = 1.0
        if node.nan_odom:
            od.pose.pose.position.x = float("nan")
        node.odom.publish(od)

    node.create_timer(0.1, feed)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    return node, statuses, executor


@contextmanager
def reasoning_node(ctx, params: list[str]) -> Iterator[tuple[object, list[ReasoningStatus], subprocess.Popen[str]]]:
    """The node as a process, and a test node that feeds it camera and odometry at 10 Hz."""
    proc = subprocess.Popen([sys.executable, "-m", "nav_r1.nodes.reasoning_node", "--ros-args", *params],
                            env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        node, statuses, executor = _feeder(ctx)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    try:
        assert wait_for(lambda: node.instr.get_subscription_count() > 0 or proc.poll() is not None, 60.0)
        assert proc.poll() is None, proc.communicate()[1]
        yield node, statuses, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(2)
            try:
                print(proc.communicate(timeout=20)[1])
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
        executor.shutdown()
        node.destroy_node()


def test_nan_odometry_is_dropped_and_a_long_reply_is_bounded_in_status(tmp_path: Path, ros_context) -> None:
    # Long, yet under the parser's own cap (parse.max_reply_chars): a valid plan, whose text is cut in status.
    huge = "<think>" + "x" * 10_000 + "</think><action>move forward 25cm</action>"
    replies = tmp_path / "replies.txt"
    replies.write_text(huge + "\n")
    with reasoning_node(ros_context, ["-p", f"backend:=scripted:{replies}", "-p", "status_text_chars:=1000"]) as (
            node, statuses, proc):
        node.nan_odom = True
        time.sleep(1.0)  # ten NaN odometry messages: the node used to die on the first
        assert proc.poll() is None, "reasoning_node died on NaN odometry"
        node.nan_odom = False
        node.instr.publish(String(data="go ahead"))
        assert wait_for(lambda: any(s.state is ReasoningState.PLANNED for s in statuses), 30.0), statuses
        planned = next(s for s in statuses if s.state is ReasoningState.PLANNED)
        assert planned.actions == ("move forward 25cm",)
        assert len(planned.raw) < 1100 and "[truncated" in planned.raw
        assert len(planned.to_json()) < 4000
        assert proc.poll() is None


def test_a_trickling_server_times_out_and_the_node_recovers(tmp_path: Path, ros_context) -> None:
    posts = trickle(0.5)

    def respond(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
        if request.startswith(b"GET /health"):
            body = json.dumps({"status": "ok"}).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        else:
            posts(conn, request, stop)

    server = RawServer(respond)
    try:
        params = ["-p", f"backend:=openai:http://127.0.0.1:{server.port}/v1#m", "-p", "request_timeout_s:=1.5",
                  "-p", "health_period_s:=0.3", "-p", "retry_backoff_s:=0.5"]
        with reasoning_node(ros_context, params) as (node, statuses, proc):
            node.instr.publish(String(data="go ahead"))
            assert wait_for(lambda: any(s.state is ReasoningState.FAILED for s in statuses), 60.0), statuses
            failed = next(s for s in statuses if s.state is ReasoningState.FAILED)
            assert "within the request deadline of 1.5 s" in (failed.error or "")
            seen = len(server.requests)
            # Not wedged "busy": health probes resume and the next request is made.
            assert wait_for(lambda: any(r.startswith(b"GET /health") for r in server.requests[seen:])
                            and any(r.startswith(b"POST") for r in server.requests[seen:]), 30.0), server.requests
            assert proc.poll() is None
    finally:
        server.close()


def test_a_reply_in_flight_does_not_hold_the_node_at_shutdown(ros_context) -> None:
    """SIGINT while the model server is still answering: exit 0 well before launch's SIGTERM escalation."""
    server = RawServer(trickle(0.5))
    try:
        params = ["-p", f"backend:=openai:http://127.0.0.1:{server.port}/v1#m", "-p", "request_timeout_s:=60.0",
                  "-p", "health_period_s:=0.0"]
        with reasoning_node(ros_context, params) as (node, _statuses, proc):
            node.instr.publish(String(data="go ahead"))
            assert wait_for(lambda: any(r.startswith(b"POST") for r in server.requests), 30.0), "no request made"
            proc.send_signal(2)
            try:
                _, err = proc.communicate(timeout=5.0)  # ros2 launch's sigterm_timeout
            except subprocess.TimeoutExpired:
                pytest.fail("reasoning_node still running 5 s after SIGINT with a reply in flight")
            assert proc.returncode == 0 and "Traceback" not in err, err
    finally:
        server.close()
