"""``obstacles:=process``: depth is projected by obstacle_node in its own process, and the control
node stops on the base_link cloud it publishes, as it does on depth with the default inline mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fake_robot import robot_with_graph
from helpers import wait_for
from std_msgs.msg import String

from nav_r1.graph import build_graph

pytestmark = pytest.mark.ros

REPLY = "<think>Long corridor.</think><action>move forward 100cm</action>"


def test_control_node_stops_on_the_obstacle_process_cloud(tmp_path: Path, ros_context) -> None:
    replies = tmp_path / "replies.txt"
    replies.write_text(REPLY + "\n")
    specs = build_graph({"robot": "wheeled", "reasoner": f"scripted:{replies}", "depth": "none",
                         "obstacles": "process"})
    assert [s.name for s in specs] == ["reasoning_node", "obstacle_node", "control_node"]
    with robot_with_graph(specs, tmp_path, ros_context) as (_, robot):
        assert wait_for(lambda: robot.node.count_subscribers("nav_r1/instruction") > 0, 20.0), "reasoning node not up"
        robot.instr_pub.publish(String(data="go down the corridor"))
        # Driving at all proves fresh obstacle clouds arrive: without them the control node's
        # obstacle timeout (0.5 s for this robot) holds it at zero.
        assert wait_for(lambda: any(c[1] > 0.1 for c in list(robot.cmds)), 20.0), \
            f"no forward command; states {[s for _, s in robot.states][-5:]}"
        # A wall 12 cm in front of the camera (x = 0.29 m in base_link): inside the 0.35 m stop zone.
        robot.depth[:] = 0.12
        assert wait_for(lambda: any(e.get("zone") == "stop" and e.get("action") == "stop"
                                    for _, e in list(robot.events)), 3.0), \
            f"no stop event: {[e for _, e in robot.events]}"
        t_stop = next(t for t, e in list(robot.events) if e.get("zone") == "stop" and e.get("action") == "stop")
        assert wait_for(lambda: any(c[0] >= t_stop - 0.05 and c[1] == 0.0 for c in list(robot.cmds)), 1.0)
        assert wait_for(lambda: len([c for c in list(robot.cmds) if c[0] > t_stop + 0.1]) > 20, 3.0)
        held = [c for c in list(robot.cmds) if c[0] > t_stop + 0.1]
        assert all(c[1] == 0.0 for c in held), "moved with the wall inside the stop zone"
        # The wall goes away: the zone clears and the robot drives on.
        robot.depth[:] = 6.0
        assert wait_for(lambda: any(c[1] > 0.05 for c in list(robot.cmds) if c[0] > t_stop + 0.2), 5.0), \
            "did not drive on after the wall went away"
        assert np.isfinite(robot.x) and robot.x > 0.0
