"""JointTrajectory <-> TimedTrajectory, without ROS imports beyond the message types."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration
from numpy.typing import NDArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from vla_r1.timing import TimedTrajectory


def _duration(t: float) -> Duration:
    sec = int(t)
    return Duration(sec=sec, nanosec=round((t - sec) * 1e9))


def trajectory_to_msg(names: tuple[str, ...], traj: TimedTrajectory, frame_id: str = "base_link") -> JointTrajectory:
    """A JointTrajectory with positions, velocities and time_from_start for every sample."""
    msg = JointTrajectory()
    msg.header.frame_id = frame_id
    msg.joint_names = list(names)
    for t, q, v in zip(traj.times, traj.positions, traj.velocities, strict=True):
        msg.points.append(
            JointTrajectoryPoint(positions=q.tolist(), velocities=v.tolist(), time_from_start=_duration(float(t)))
        )
    return msg


def msg_to_trajectory(
    msg: JointTrajectory, joint_names: tuple[str, ...], current: NDArray[np.float64] | None
) -> TimedTrajectory:
    """Reorder a JointTrajectory onto ``joint_names``; joints it leaves out hold ``current``.

    Raises ValueError naming the problem (unknown joints, ragged points, times not increasing).
    """
    names = list(msg.joint_names)
    unknown = sorted(set(names) - set(joint_names))
    if unknown:
        raise ValueError(f"trajectory names unknown joints {unknown}; this controller drives {list(joint_names)}")
    if len(set(names)) != len(names):
        raise ValueError("trajectory names a joint twice")
    if not msg.points:
        raise ValueError("trajectory has no points")
    missing = [j for j in joint_names if j not in names]
    if missing and current is None:
        raise ValueError(f"trajectory leaves out {missing} and no joint state is known to hold them")
    index = [names.index(j) if j in names else -1 for j in joint_names]
    times, pos, vel = [], [], []
    for i, p in enumerate(msg.points):
        if len(p.positions) != len(names):
            raise ValueError(f"point {i} has {len(p.positions)} positions for {len(names)} joints")
        if len(p.velocities) not in (0, len(names)):
            raise ValueError(f"point {i} has {len(p.velocities)} velocities for {len(names)} joints")
        held = current if current is not None else np.zeros(len(joint_names))
        q = np.array([float(p.positions[k]) if k >= 0 else float(held[j]) for j, k in enumerate(index)])
        v = np.array([p.velocities[k] if k >= 0 and p.velocities else 0.0 for k in index], dtype=float)
        times.append(p.time_from_start.sec + p.time_from_start.nanosec * 1e-9)
        pos.append(q)
        vel.append(v)
    t = np.array(times)
    if not np.all(np.isfinite(np.array(pos))):
        raise ValueError("trajectory positions must be finite")
    if np.any(np.diff(t) <= 0):
        raise ValueError("time_from_start must increase strictly from point to point")
    if t[0] > 0.0 and current is not None:
        # Start from where the arm is, as ros2_control's joint trajectory controller does.
        t = np.concatenate([[0.0], t])
        pos.insert(0, np.asarray(current, dtype=float))
        vel.insert(0, np.zeros(len(joint_names)))
    return TimedTrajectory(t, np.array(pos), np.array(vel), t.copy())
