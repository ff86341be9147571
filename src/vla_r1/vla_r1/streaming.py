"""Streams a timed joint trajectory at the controller's rate, with an e-stop that holds at once.

ROS-free: the joint-command node calls it from its timer, the simulator from its step loop.  All
state belongs to the caller's single control thread (the node guards it with a lock).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from vla_r1.timing import TimedTrajectory


@dataclass(frozen=True)
class Command:
    """One command: joint positions and velocities in ``joint_names`` order, and why."""

    positions: NDArray[np.float64]
    velocities: NDArray[np.float64]
    state: str  # "idle", "moving", "done", "stopped"


class TrajectoryStreamer:
    """Holds the active trajectory and answers the command for any time."""

    def __init__(self, joint_names: tuple[str, ...], *, max_start_error: float = 0.15) -> None:
        self.joint_names = joint_names
        self.max_start_error = max_start_error
        self._traj: TimedTrajectory | None = None
        self._start = 0.0
        self._hold: NDArray[np.float64] | None = None
        self._stopped = False

    @property
    def stopped(self) -> bool:
        """True while the e-stop is engaged."""
        return self._stopped

    @property
    def active(self) -> bool:
        """True while a trajectory is being streamed."""
        return self._traj is not None

    def hold(self, positions: NDArray[np.float64]) -> None:
        """Hold these positions when nothing else is commanded (e.g. the first joint state)."""
        self._hold = np.asarray(positions, dtype=float).copy()

    def load(self, traj: TimedTrajectory, now: float, current: NDArray[np.float64] | None) -> str:
        """Start streaming ``traj`` at ``now``; returns an error text ('' when accepted)."""
        if self._stopped:
            return "e-stop engaged: trajectory rejected"
        if traj.positions.shape[1] != len(self.joint_names):
            return f"trajectory has {traj.positions.shape[1]} joints, expected {len(self.joint_names)}"
        ref = current if current is not None else self._hold
        if ref is not None:
            gap = float(np.max(np.abs(traj.positions[0] - ref)))
            if gap > self.max_start_error:
                return f"trajectory starts {gap:.3f} from the current state (limit {self.max_start_error})"
        self._traj, self._start = traj, now
        return ""

    def set_stop(self, engaged: bool, now: float, current: NDArray[np.float64] | None) -> None:
        """Engage (hold where the arm is now, drop the trajectory) or release (keep holding)."""
        if engaged and not self._stopped:
            if current is not None:
                self._hold = np.asarray(current, dtype=float).copy()
            elif self._traj is not None:
                self._hold = self._traj.sample(now - self._start)[0]
            self._traj = None
        self._stopped = engaged

    def command(self, now: float) -> Command | None:
        """The command for time ``now``; None before anything is known to hold."""
        n = len(self.joint_names)
        if self._traj is not None and not self._stopped:
            t = now - self._start
            q, v = self._traj.sample(t)
            if t >= self._traj.duration:
                self._hold, self._traj = q, None
                return Command(q, np.zeros(n), "done")
            return Command(q, v, "moving")
        if self._hold is None:
            return None
        return Command(self._hold.copy(), np.zeros(n), "stopped" if self._stopped else "idle")
