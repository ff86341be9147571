"""The control stack: a parsed VLA-R1 answer + RGB-D + joint state -> a timed joint trajectory.

ROS-free.  Affordance boxes become top-down approach/grasp/lift motions with the gripper closing at
the grasp; trajectory waypoints become a Cartesian path hovering above the surfaces they point at.
Every refusal (no depth, unreachable, IK branch jump) returns a plan with ``ok=False`` and a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from r1_core.params import param, validate_params
from vla_r1.geometry import Intrinsics, LiftError, lift_normalised
from vla_r1.grasp import grasp_poses, trajectory_targets
from vla_r1.kinematics import DOWN, GRIPPER_JOINT, ArmKinematics
from vla_r1.parse import ParsedReply
from vla_r1.timing import TimedTrajectory, time_parametrize
from vla_r1.urdf import Mat4


@dataclass(frozen=True)
class PlannerConfig:
    """How answers become motions (lengths in metres, angles in radians)."""

    # Side of the square window whose median depth lifts an image point (robust to holes).
    depth_window: int = param(7, "Depth median window side [px]", min=1, max=51)
    # Refuse a point when fewer valid depth pixels than this share of the window remain.
    min_valid_fraction: float = param(0.3, "Share of valid depth pixels needed in the window", min=0.01, max=1.0)
    approach_height: float = param(0.10, "Approach height above the grasp [m]", min=0.0, max=0.5)
    grasp_depth: float = param(0.015, "Fingertips close this far below the seen top surface [m]", min=0.0, max=0.1)
    lift_height: float = param(0.10, "Lift height above the grasp [m]", min=0.0, max=0.5)
    # Surfaces seen higher than this are not the table or an object on it but the arm itself.
    max_surface_z: float = param(0.15, "Highest plausible surface under a trajectory point [m]", min=0.0, max=2.0)
    hover_height: float = param(0.05, "Trajectory tcp height above the surfaces under it [m]", min=0.0, max=0.5)
    # The base frame's z = 0 is the mounting surface; keep the tcp this far above it.
    min_tcp_z: float = param(0.025, "Lowest tcp height in the base frame [m]", min=-1.0, max=1.0)
    velocity_scale: float = param(0.5, "Share of the URDF joint velocity limits used", min=0.01, max=1.0)
    acceleration_limit: float = param(2.0, "Arm joint acceleration limit [rad/s^2]", min=0.01, max=50.0)
    gripper_open: float = param(0.04, "Finger position when open [m]", min=0.0, max=0.04)
    gripper_closed: float = param(0.0, "Finger position when closed [m]", min=0.0, max=0.04)
    gripper_acceleration: float = param(0.5, "Finger acceleration limit [m/s^2]", min=0.001, max=10.0)
    sample_dt: float = param(0.02, "Spacing of the published trajectory points [s]", min=0.001, max=0.5)
    max_joint_step: float = param(0.8, "Largest joint change between path IK solutions [rad]", min=0.05, max=3.14)
    max_path_deviation: float = param(
        0.005, "Largest stray of the joint path from a Cartesian segment [m]", min=0.0005, max=0.1
    )

    def __post_init__(self) -> None:
        validate_params(self)


@dataclass(frozen=True)
class MotionPlan:
    """A planned motion, or the reason there is none."""

    ok: bool
    task: str
    reason: str = ""
    joint_names: tuple[str, ...] = ()
    trajectory: TimedTrajectory | None = None
    # Named tcp targets in the base frame (approach, grasp, lift, or path points).
    targets: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    # When each named event happens, seconds from the start (e.g. "grasp", "end").
    events: dict[str, float] = field(default_factory=dict)

    @classmethod
    def refuse(cls, task: str, reason: str) -> MotionPlan:
        """A plan carrying only a refusal."""
        return cls(ok=False, task=task, reason=reason)


class MotionPlanner:
    """Turns parsed answers into timed joint trajectories for the arm and gripper."""

    def __init__(self, kinematics: ArmKinematics, base_from_camera: Mat4, config: PlannerConfig | None = None) -> None:
        self.kin = kinematics
        self.base_from_camera = np.asarray(base_from_camera, dtype=float)
        self.config = config or PlannerConfig()
        self.joint_names = (*kinematics.joint_names, GRIPPER_JOINT)
        c = self.config
        self._vel = np.append(
            kinematics.velocity_limits * c.velocity_scale, kinematics.gripper_velocity * c.velocity_scale
        )
        self._acc = np.append(np.full(6, c.acceleration_limit), c.gripper_acceleration)

    def _lift(self, points: NDArray[np.float64], depth: NDArray[np.float32], k: Intrinsics) -> NDArray[np.float64]:
        c = self.config
        return lift_normalised(
            points, depth, k, self.base_from_camera, window=c.depth_window, min_valid_fraction=c.min_valid_fraction
        )

    def plan(
        self,
        parsed: ParsedReply,
        depth: NDArray[np.float32],
        intrinsics: Intrinsics,
        q_now: NDArray[np.float64],
        gripper_now: float,
    ) -> MotionPlan:
        """Plan from the current joint state; never raises for a bad answer or an unreachable target."""
        if not parsed.ok:
            return MotionPlan.refuse(parsed.task, f"reply not usable: {parsed.reason}")
        q_now = np.asarray(q_now, dtype=float)
        if q_now.shape != (6,) or not np.all(np.isfinite(q_now)):
            return MotionPlan.refuse(parsed.task, f"joint state must be 6 finite positions, got {q_now!r}")
        try:
            if parsed.task == "affordance" and parsed.box is not None:
                return self._plan_grasp(parsed, depth, intrinsics, q_now, gripper_now)
            if parsed.task == "trajectory" and parsed.points is not None:
                return self._plan_path(parsed.points, depth, intrinsics, q_now, gripper_now)
        except LiftError as exc:
            return MotionPlan.refuse(parsed.task, f"cannot lift to 3D: {exc}")
        return MotionPlan.refuse(parsed.task, f"nothing to plan for task '{parsed.task}'")

    def _plan_grasp(
        self, parsed: ParsedReply, depth: NDArray[np.float32], k: Intrinsics, q_now: NDArray[np.float64], grip: float
    ) -> MotionPlan:
        c = self.config
        assert parsed.box is not None
        surface = self._lift(np.array([[parsed.box.x, parsed.box.y]]), depth, k)[0]
        poses = grasp_poses(
            surface,
            approach_height=c.approach_height,
            grasp_depth=c.grasp_depth,
            lift_height=c.lift_height,
            min_tcp_z=c.min_tcp_z,
        )
        targets = {"surface": surface, "approach": poses.approach, "grasp": poses.grasp, "lift": poses.lift}
        first = self.kin.ik(poses.approach, DOWN, seed=q_now)
        if not first.ok or first.q is None:
            return MotionPlan.refuse(
                "affordance", f"approach pose {np.round(poses.approach, 3).tolist()}: {first.reason}"
            )
        down, why = self._cartesian(first.q, [poses.grasp])
        if down is None:
            return MotionPlan.refuse("affordance", f"descent: {why}")
        up, why = self._cartesian(down[-1], [poses.lift])
        if up is None:
            return MotionPlan.refuse("affordance", f"lift: {why}")
        rows = [np.append(q_now, grip), np.append(first.q, c.gripper_open)]
        rows += [np.append(q, c.gripper_open) for q in down]
        grasp_index = len(rows)
        rows.append(np.append(down[-1], c.gripper_closed))  # close in place before lifting
        rows += [np.append(q, c.gripper_closed) for q in up]
        traj = self._time(np.array(rows))
        events = {
            "grasp": float(traj.waypoint_times[grasp_index - 1]),
            "closed": float(traj.waypoint_times[grasp_index]),
            "end": traj.duration,
        }
        return MotionPlan(
            True, "affordance", joint_names=self.joint_names, trajectory=traj, targets=targets, events=events
        )

    def _plan_path(
        self,
        points: NDArray[np.float64],
        depth: NDArray[np.float32],
        k: Intrinsics,
        q_now: NDArray[np.float64],
        grip: float,
    ) -> MotionPlan:
        c = self.config
        # The first waypoint is where the gripper is now; the depth there sees the gripper itself,
        # so the path starts from the measured tcp instead.  Intermediate points whose depth is a
        # hole or sees the arm (higher than any tabletop surface) are dropped; the goal must lift.
        kept = []
        for i, p in enumerate(points[1:], start=1):
            last = i == len(points) - 1
            try:
                s = self._lift(p[None, :], depth, k)[0]
            except LiftError:
                if last:
                    raise
                continue
            if s[2] > c.max_surface_z:
                if last:
                    return MotionPlan.refuse("trajectory", f"goal surface at z={s[2]:.3f} m is above max_surface_z")
                continue
            kept.append(s)
        path = trajectory_targets(np.array(kept), hover_height=c.hover_height, min_tcp_z=c.min_tcp_z)
        joint_path, why = self._cartesian(q_now, list(path))
        if joint_path is None:
            return MotionPlan.refuse("trajectory", why)
        rows = [np.append(q_now, grip)] + [np.append(q, grip) for q in joint_path]
        traj = self._time(np.array(rows))
        targets = {"path": path, "end": path[-1]}
        return MotionPlan(
            True,
            "trajectory",
            joint_names=self.joint_names,
            trajectory=traj,
            targets=targets,
            events={"end": traj.duration},
        )

    def _cartesian(
        self, q0: NDArray[np.float64], points: list[NDArray[np.float64]]
    ) -> tuple[NDArray[np.float64] | None, str]:
        c = self.config
        return self.kin.ik_path(
            np.array(points), DOWN, q0, max_joint_step=c.max_joint_step, max_deviation=c.max_path_deviation
        )

    def _time(self, rows: NDArray[np.float64]) -> TimedTrajectory:
        return time_parametrize(rows, self._vel, self._acc, sample_dt=self.config.sample_dt)
