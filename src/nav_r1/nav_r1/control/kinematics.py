"""A kinematic robot model for tests and benchmarks: integrates commands with a lag, odometry noise.

Not a physics simulator (r1_sim is): just enough plant to close the controller's loop on.
"""

from __future__ import annotations

import math

import numpy as np

from nav_r1.control.controller import FastController
from nav_r1.control.types import ControlOutput, Odometry, Twist
from r1_core import Pose2D


class KinematicBase:
    """Planar or aerial base: the body velocity follows the command with time constant ``tau``."""

    def __init__(self, pose: Pose2D | None = None, *, tau: float = 0.05, noise_xy: float = 0.0,
                 noise_yaw: float = 0.0, slip: float = 0.0, seed: int = 0) -> None:
        self.pose = pose or Pose2D(0.0, 0.0, 0.0)
        self.velocity = Twist()
        self.tau, self.noise_xy, self.noise_yaw, self.slip = tau, noise_xy, noise_yaw, slip
        self._rng = np.random.default_rng(seed)

    def advance(self, cmd: Twist, dt: float) -> None:
        """Move for ``dt`` seconds under command ``cmd``."""
        a = 1.0 if self.tau <= 0.0 else 1.0 - math.exp(-dt / self.tau)
        v = self.velocity
        # Slip: the base achieves a fraction of what it was asked (wheels on a smooth floor).
        k = 1.0 - self.slip
        self.velocity = Twist(
            v.vx + a * (k * cmd.vx - v.vx), v.vy + a * (k * cmd.vy - v.vy),
            v.vz + a * (k * cmd.vz - v.vz), v.wz + a * (k * cmd.wz - v.wz),
        )
        v, p = self.velocity, self.pose
        c, s = math.cos(p.yaw), math.sin(p.yaw)
        self.pose = Pose2D(
            p.x + (c * v.vx - s * v.vy) * dt,
            p.y + (s * v.vx + c * v.vy) * dt,
            p.yaw + v.wz * dt,
            p.z + v.vz * dt,
        )

    def odometry(self, stamp: float) -> Odometry:
        """What the odometry reports: the true pose plus Gaussian noise."""
        p, r = self.pose, self._rng
        nxy, nyaw = self.noise_xy, self.noise_yaw
        noisy = Pose2D(
            p.x + (r.normal(0.0, nxy) if nxy else 0.0),
            p.y + (r.normal(0.0, nxy) if nxy else 0.0),
            p.yaw + (r.normal(0.0, nyaw) if nyaw else 0.0),
            p.z + (r.normal(0.0, nxy) if nxy else 0.0),
        )
        return Odometry(stamp, noisy, self.velocity)


def run_closed_loop(controller: FastController, base: KinematicBase, t0: float, seconds: float,
                    *, odom_every: int = 1) -> tuple[float, list[ControlOutput]]:
    """Step ``controller`` against ``base`` at its rate for ``seconds``; odometry every n-th tick.

    Returns the end time and every output.
    """
    dt = controller.cfg.period_s
    t, outs = t0, []
    for i in range(round(seconds / dt)):
        t = t0 + (i + 1) * dt
        if i % odom_every == 0:
            controller.on_odom(base.odometry(t), t)
        out = controller.step(t)
        base.advance(out.twist, dt)
        outs.append(out)
    return t, outs
