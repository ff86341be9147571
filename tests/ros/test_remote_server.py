"""The model behind a server process: kill it, the robot stops; bring it back, the robot resumes."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_robot import robot_with_graph
from helpers import wait_for
from std_msgs.msg import String

from nav_r1.graph import build_graph
from r1_core.backends.openai_client import OpenAIChatVLM, OpenAIClientConfig
from r1_core.reasoner import ChatMessage

pytestmark = pytest.mark.ros

REPLY = "<think>Clear ahead.</think><action>move forward 25cm, move forward 25cm</action>"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(replies: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "import sys; from r1_core.server import main; sys.exit(main())",
         "--replies", str(replies), "--port", str(port), "--served-model-name", "nav-r1", "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _server_up(port: int) -> bool:
    client = OpenAIChatVLM(OpenAIClientConfig(base_url=f"http://127.0.0.1:{port}/v1", model="nav-r1"))
    return wait_for(lambda: client.health() is not None, 30.0)


def test_scripted_server_answers_like_a_model(tmp_path: Path) -> None:
    replies = tmp_path / "replies.txt"
    replies.write_text(REPLY + "\n")
    port = _free_port()
    server = _start_server(replies, port)
    try:
        assert _server_up(port)
        client = OpenAIChatVLM(OpenAIClientConfig(base_url=f"http://127.0.0.1:{port}/v1", model="nav-r1"))
        reply = client.generate([ChatMessage("user", ("go",))])
        assert reply.ok and reply.text == REPLY
    finally:
        server.kill()
        server.wait()


def test_robot_stops_when_the_model_server_dies_and_resumes_when_it_returns(tmp_path: Path, ros_context) -> None:
    replies = tmp_path / "replies.txt"
    replies.write_text(REPLY + "\n")
    port = _free_port()
    server = _start_server(replies, port)
    specs = build_graph({"robot": "wheeled", "reasoner": f"openai:http://127.0.0.1:{port}/v1#nav-r1",
                         "depth": "none"})
    try:
        with robot_with_graph(specs, tmp_path, ros_context) as (_graph, robot):
            assert _server_up(port)
            assert wait_for(lambda: robot.node.count_subscribers("nav_r1/instruction") > 0, 30.0)
            robot.instr_pub.publish(String(data="drive ahead"))

            def moving() -> bool:
                return bool(robot.cmds) and robot.cmds[-1][1] > 0.05

            def stopped() -> bool:
                recent = [c for c in robot.cmds if c[0] > time.monotonic() - 0.3]
                return bool(recent) and all(c[1] == 0.0 and c[2] == 0.0 for c in recent)

            assert wait_for(moving, 30.0), "the robot never moved on the server's replies"
            server.kill()
            server.wait()
            killed = time.monotonic()
            # The health probe (1 s) notices, the node publishes an empty plan (hold), the fast node
            # decelerates to zero; bounded by the probe period + the client's timeouts + the ramp down.
            assert wait_for(stopped, 15.0), "the robot did not stop after the server died"
            stop_delay = time.monotonic() - killed
            assert wait_for(lambda: any(s.get("state") == "holding" for s in robot.status), 5.0), \
                "no holding status reported"
            assert not moving()

            server = _start_server(replies, port)
            assert _server_up(port)
            assert wait_for(moving, 30.0), "the robot did not resume when the server came back"
            assert wait_for(lambda: any(s.get("state") == "resumed" for s in robot.status), 5.0), \
                "no resumed status reported"
            print(f"stopped {stop_delay:.2f} s after the server was killed")
    finally:
        server.kill()
        server.wait()

