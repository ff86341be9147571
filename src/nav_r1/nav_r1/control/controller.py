"""The fast controller: plan following, twist multiplexing, collision zones and limits in one pure core.

Time is always passed in; there are no clocks or threads here, so the same code runs in the node,
in lock-step simulation and in tests.  The core is not thread-safe: the node serialises every call
with one lock (the loop timer and the depth callback run on different threads).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from nav_r1.control.config import ControlConfig
from nav_r1.control.limits import VelocityLimiter
from nav_r1.control.mux import NAVIGATION, TwistMux
from nav_r1.control.primitives import Climb, Drive, Primitive, Turn, segment_primitives
from nav_r1.control.pursuit import PurePursuit
from nav_r1.control.safety import ZoneChecker, ZoneVerdict
from nav_r1.control.types import (
    ZERO,
    ControlOutput,
    ControlState,
    Odometry,
    Plan,
    Progress,
    SafetyEvent,
    Twist,
    ZoneAction,
)

Step = Primitive | PurePursuit


class FastController:
    """Turns the latest plan (or a teleop input) into one safe velocity command per tick."""

    def __init__(self, config: ControlConfig) -> None:
        self.cfg = config
        self.planar = config.profile == "planar"
        self.limiter = VelocityLimiter(config.limits, planar=self.planar, holonomic=config.holonomic)
        self.mux = TwistMux(config.mux)
        self.zones = ZoneChecker.from_config(config.zones)
        self.reset()

    def reset(self) -> None:
        """Forget the plan, odometry, obstacles, inputs and the last command."""
        self._plan: Plan | None = None
        self._plan_received = 0.0
        self._steps: list[Step] = []
        self._active = 0
        self._odom: Odometry | None = None
        self._odom_received = 0.0
        self._verdict: ZoneVerdict | None = None
        self._obstacles_received: float | None = None
        self._zone_action = ZoneAction.CLEAR
        self._stale = False
        self._events: list[SafetyEvent] = []
        self._last_step: float | None = None
        self._prev_source: str | None = None
        self._hold_z: float | None = None
        self.limiter.hard_stop()
        self.mux.reset()

    # --- inputs -------------------------------------------------------------------------------

    def on_plan(self, plan: Plan, now: float) -> bool:
        """Replace the plan at once (an empty plan means stop and hold); True if it was a new plan.

        The same plan again (same stamp and poses: the planner's heartbeat) only refreshes its
        age, so progress is kept and the robot never drives back to a target it already passed.
        """
        cur = self._plan
        if cur is not None and cur.stamp == plan.stamp and cur.poses == plan.poses:
            self._plan_received = now
            return False
        self._plan, self._plan_received, self._active = plan, now, 0
        if len(plan.poses) < 2:
            self._steps = []
            if self._odom is not None:
                self._hold_z = self._odom.pose.z
            return True
        prims = segment_primitives(plan.poses, self.cfg.primitives)
        if prims is not None:
            self._steps = list(prims)
            return True
        last = plan.poses[-1]
        steps: list[Step] = [PurePursuit(plan.poses)]
        if self.cfg.pursuit.rotate_to_goal_heading:
            steps.append(Turn(last.yaw, len(plan.poses) - 2, last.z))
        self._steps = steps
        return True

    def on_odom(self, odom: Odometry, now: float) -> None:
        """The latest odometry."""
        self._odom, self._odom_received = odom, now
        if self._hold_z is None:
            self._hold_z = odom.pose.z

    def on_teleop(self, name: str, twist: Twist, now: float) -> None:
        """A teleop velocity on mux input ``name``."""
        self.mux.on_input(name, twist, now)

    def on_lock(self, name: str, engaged: bool, now: float) -> None:
        """A Bool on lock ``name``."""
        self.mux.on_lock(name, engaged, now)

    def evaluate_obstacles(self, points_base: NDArray[np.float32], *, filtered: bool = False) -> ZoneVerdict:
        """Check obstacle points (N, 3) in base_link against the zones (pure; safe outside the lock).

        ``filtered`` skips the height-band and finiteness filter (DepthProjector output has had it).
        """
        if points_base.ndim != 2 or points_base.shape[1] != 3:
            raise ValueError(f"obstacle points must be (N, 3) in base_link, got {points_base.shape}")
        if filtered:
            return self.zones.check(points_base)
        d = self.cfg.depth
        z = points_base[:, 2]
        with np.errstate(invalid="ignore"):
            keep = (z >= d.min_height) & (z <= d.max_height) & np.isfinite(points_base[:, :2]).all(axis=1)
        return self.zones.check(points_base[keep])

    def apply_obstacles(self, verdict: ZoneVerdict, stamp: float, now: float) -> ControlOutput | None:
        """Record a zone verdict; return an immediate zero output when a stop zone newly triggers."""
        prev = self._zone_action
        self._verdict, self._obstacles_received = verdict, now
        if self._stale:
            self._stale = False
            self._events.append(SafetyEvent(stamp, "obstacles", ZoneAction.FRESH, float("inf"), 0))
        action = verdict.action
        if action != prev:
            hit = verdict.winner
            zone = hit.zone.name if hit is not None else prev.value
            dist = hit.distance if hit is not None else float("inf")
            self._events.append(SafetyEvent(stamp, zone, action, dist, hit.points if hit else 0))
            self._zone_action = action
        if action is ZoneAction.STOP and prev is not ZoneAction.STOP:
            self.limiter.hard_stop()
            return ControlOutput(ZERO, self._prev_source or "none", self._drain(), ControlState.STOP_ZONE,
                                 self.progress())
        return None

    def on_obstacles(self, points_base: NDArray[np.float32], stamp: float, now: float) -> ControlOutput | None:
        """Check fresh obstacle points; an immediate stop output when a stop zone newly triggers."""
        return self.apply_obstacles(self.evaluate_obstacles(points_base), stamp, now)

    # --- the loop -----------------------------------------------------------------------------

    def step(self, now: float) -> ControlOutput:
        """One loop iteration: select the input, follow the plan, apply zones and limits."""
        period = self.cfg.period_s
        dt = period if self._last_step is None else min(max(now - self._last_step, 0.0), 10.0 * period)
        self._last_step = now
        sel = self.mux.select(now)
        prev = self._prev_source
        nav_twist, state = self._navigate(now) if sel.source == NAVIGATION else (ZERO, ControlState.TELEOP)
        source = sel.source if sel.source is not None else f"lock:{sel.lock}"
        self._prev_source = sel.source
        if sel.source is None:
            return self._out(self.limiter.hard_stop(), source, ControlState.LOCKED)
        if prev in self.mux.inputs and prev != sel.source and not self.mux.is_active(prev, now):
            # Unlike twist_mux: a winning input that times out yields zero at once, then the next ramps up.
            return self._out(self.limiter.hard_stop(), source, ControlState.INPUT_TIMEOUT, timed_out=prev)
        target = sel.twist if sel.twist is not None else nav_twist
        if self._obstacles_stale(now):
            if not self._stale:
                self._stale = True
                self._events.append(SafetyEvent(now, "obstacles", ZoneAction.STALE, float("inf"), 0))
            return self._out(self.limiter.limit(ZERO, dt), source, ControlState.OBSTACLES_STALE)
        if self._zone_action is ZoneAction.STOP:
            return self._out(self.limiter.hard_stop(), source, ControlState.STOP_ZONE)
        slowed = self._verdict is not None and self._zone_action is ZoneAction.SLOWDOWN
        if slowed:
            assert self._verdict is not None
            target = target.scaled(self._verdict.scale)
        return self._out(self.limiter.limit(target, dt), source, state, slowdown=slowed)

    def progress(self) -> Progress:
        """Where the active plan stands."""
        if self._plan is None:
            return Progress()
        segments = max(len(self._plan.poses) - 1, 0)
        if self._active >= len(self._steps):
            return Progress(self._plan.plan_id, max(segments - 1, 0), segments, True, "done")
        step = self._steps[self._active]
        return Progress(self._plan.plan_id, step.segment, segments, False, step.kind)

    # --- internals ----------------------------------------------------------------------------

    def _out(self, twist: Twist, source: str, state: ControlState, *, slowdown: bool = False,
             timed_out: str = "") -> ControlOutput:
        return ControlOutput(twist, source, self._drain(), state, self.progress(), slowdown, timed_out)

    def _drain(self) -> tuple[SafetyEvent, ...]:
        events, self._events = tuple(self._events), []
        return events

    def _obstacles_stale(self, now: float) -> bool:
        timeout = self.cfg.timeouts.obstacles_s
        if timeout <= 0.0:
            return False
        return self._obstacles_received is None or now - self._obstacles_received > timeout

    def _navigate(self, now: float) -> tuple[Twist, ControlState]:
        """The plan follower's command (before zones and limits) and its state."""
        if self._plan is None:
            return ZERO, ControlState.IDLE
        if now - self._plan_received > self.cfg.timeouts.plan_s:
            # Kept, not dropped: a late heartbeat of the same plan resumes where it stopped.
            return ZERO, ControlState.PLAN_STALE
        odom = self._odom
        if odom is None or now - self._odom_received > self.cfg.timeouts.odom_s:
            return ZERO, ControlState.ODOM_STALE
        pose, lim, pcfg = odom.pose, self.cfg.limits, self.cfg.primitives
        twist, climbing, z_ref = ZERO, False, self._hold_z
        while self._active < len(self._steps):
            step = self._steps[self._active]
            if isinstance(step, PurePursuit):
                twist, done = step.step(pose, self.limiter.last.vx, self.cfg.pursuit,
                                        lim.max_linear_decel * pcfg.decel_fraction, pcfg.angular_speed)
            elif isinstance(step, Drive):
                twist, done = step.step(odom, pcfg, lim.max_linear_decel, self.cfg.holonomic)
            elif isinstance(step, Turn):
                twist, done = step.step(odom, pcfg, lim.max_angular_decel, self.cfg.holonomic)
            else:
                twist, done = step.step(odom, pcfg, lim.max_vertical_accel, self.cfg.holonomic)
            z_ref = step.z_target
            if not done:
                climbing = isinstance(step, Climb)
                break
            self._hold_z = step.z_target
            self._active += 1
        if not self._steps:
            state = ControlState.HOLDING
        elif self._active >= len(self._steps):
            state = ControlState.DONE
        else:
            state = ControlState(self._steps[self._active].kind)
        if not self.planar and not climbing and z_ref is not None:
            vz = self.cfg.altitude_gain * (z_ref - pose.z)
            twist = Twist(twist.vx, twist.vy, vz, twist.wz)
        return twist, state
