"""Plan and execute through MoveIt 2's Python API (moveit_py) instead of our own IK and timing.

Chosen by the vla_node parameter ``execution: moveit``.  The targets are the same ones the direct
stack computes (tcp positions, gripper pointing down); MoveIt plans collision-aware paths to them
with its own IK and time parametrisation and executes them through its controller manager.

NOT RUN HERE: moveit_py is not installable in this environment (no ROS distribution packages, only
rclpy wheels).  The calls follow the documented moveit_py API of the MoveIt 2 "Motion Planning
Python API" tutorial (``MoveItPy(node_name=...)``, ``get_planning_component(group)``,
``set_start_state_to_current_state()``, ``set_goal_state(pose_stamped_msg=..., pose_link=...)`` or
``set_goal_state(robot_state=...)``, ``plan()`` returning a result whose ``trajectory`` is passed to
``MoveItPy.execute(trajectory, controllers=[])``); the sequencing around them is tested with a
fake that implements that interface.  Recent MoveIt releases changed ``execute``'s signature
(group name first); :meth:`MoveItExecutor._execute` tries both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vla_r1.planner import MotionPlan

# Orientation of tcp_link with its z axis pointing down (180 degrees about x): x, y, z, w.
TOP_DOWN_QUAT = (1.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class MoveItSettings:
    """Names in the robot's MoveIt configuration (SRDF)."""

    arm_group: str = "arm"
    gripper_group: str = "gripper"
    tcp_link: str = "tcp_link"
    base_frame: str = "base_link"
    gripper_joint: str = "left_finger_joint"
    node_name: str = "vla_r1_moveit_py"


def moveit_available() -> bool:
    """True when ``moveit.planning`` (moveit_py) can be imported."""
    try:
        import moveit.planning  # noqa: F401
    except ImportError:
        return False
    return True


class MoveItExecutor:
    """Executes a :class:`MotionPlan`'s targets with MoveIt; every step reports, none raises."""

    def __init__(self, settings: MoveItSettings | None = None, moveit: Any = None) -> None:
        self.settings = settings or MoveItSettings()
        if moveit is None:
            try:
                from moveit.planning import MoveItPy
            except ImportError as exc:
                raise RuntimeError(
                    "execution 'moveit' needs moveit_py (ros-<distro>-moveit-py); use execution 'direct'"
                ) from exc
            moveit = MoveItPy(node_name=self.settings.node_name)
        self.moveit = moveit
        self.arm = moveit.get_planning_component(self.settings.arm_group)
        self.gripper = moveit.get_planning_component(self.settings.gripper_group)

    def _pose(self, p: NDArray[np.float64]) -> Any:
        from geometry_msgs.msg import PoseStamped

        msg = PoseStamped()
        msg.header.frame_id = self.settings.base_frame
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in p)
        q = msg.pose.orientation
        q.x, q.y, q.z, q.w = TOP_DOWN_QUAT
        return msg

    def _execute(self, group: str, trajectory: Any) -> None:
        try:
            self.moveit.execute(trajectory, controllers=[])
        except TypeError:  # newer moveit_py: execute(group_name, trajectory, blocking=True, controllers=[])
            self.moveit.execute(group, trajectory, blocking=True, controllers=[])

    def _move_to(self, name: str, p: NDArray[np.float64]) -> str:
        self.arm.set_start_state_to_current_state()
        self.arm.set_goal_state(pose_stamped_msg=self._pose(p), pose_link=self.settings.tcp_link)
        result = self.arm.plan()
        if not result:
            return f"MoveIt found no plan to the {name} pose {np.round(p, 3).tolist()}"
        self._execute(self.settings.arm_group, result.trajectory)
        return ""

    def _gripper_to(self, position: float) -> str:
        from moveit.core.robot_state import RobotState

        state = RobotState(self.moveit.get_robot_model())
        state.set_joint_group_positions(self.settings.gripper_group, np.array([position]))
        self.gripper.set_start_state_to_current_state()
        self.gripper.set_goal_state(robot_state=state)
        result = self.gripper.plan()
        if not result:
            return f"MoveIt found no gripper plan to {position:.3f}"
        self._execute(self.settings.gripper_group, result.trajectory)
        return ""

    def execute(self, plan: MotionPlan, gripper_open: float, gripper_closed: float) -> str:
        """Run the plan's targets in order; returns '' on success or the first failure."""
        if not plan.ok:
            return f"nothing to execute: {plan.reason}"
        steps: list[tuple[str, Any]]
        if plan.task == "affordance":
            t = plan.targets
            steps = [
                ("gripper", gripper_open),
                ("approach", t["approach"]),
                ("grasp", t["grasp"]),
                ("gripper", gripper_closed),
                ("lift", t["lift"]),
            ]
        else:
            steps = [(f"path point {i}", p) for i, p in enumerate(plan.targets["path"])]
        for name, value in steps:
            err = self._gripper_to(float(value)) if name == "gripper" else self._move_to(name, value)
            if err:
                return err
        return ""
