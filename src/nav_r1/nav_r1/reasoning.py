"""The slow system's ROS-free core: frame history, when to reason, and reply -> plan.

The reasoning node owns one :class:`ReasoningCore` and calls it under one lock from two threads:
the executor thread (inputs, the decision timer, :meth:`ReasoningCore.observe`) and the node's one
worker thread, which runs the model and then, in the same thread, hands the reply to
:meth:`ReasoningCore.on_reply` (and a health probe's verdict to :meth:`ReasoningCore.end_probe`).
The core itself holds no lock and starts no thread. A reply for a superseded instruction (its
observation's ``generation`` is older) is dropped, so a new instruction always wins.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace

from nav_r1.plan import actions_to_poses, ends_with_stop
from r1_core.geometry import wrap_angle
from r1_core.nav.parse import ParseLimits, ParseResult, parse_response
from r1_core.params import nested, param, validate_params
from r1_core.reasoner import Frame, Observation, Pose2D, Response
from r1_core.reasoning_status import ReasoningState, ReasoningStatus, bounded_text


@dataclass(frozen=True)
class ReasoningConfig:
    """Parameters of the reasoning node (declared once; the docs table comes from here)."""

    backend: str = param("expert", "Reasoner: expert | transformers:PATH_OR_ID | openai:URL[#model]")
    episodes_file: str = param("", "Episode file the expert reads (simulation only)")
    action_space: str = param("nav", "Action options offered to the model", choices=("nav", "uav"))
    history_size: int = param(5, "History frames given with the current one (Nav-R1: 5)", min=0, max=16)
    history_stride_s: float = param(1.0, "Minimum time between kept history frames [s]", min=0.0, max=60.0)
    # Replanning policy: after the plan is executed, when it is too old, or after a failure.
    max_plan_age_s: float = param(8.0, "Ask again when the current plan is older than this [s]", min=0.5)
    retry_backoff_s: float = param(0.5, "Wait after a failed or unparsable reply before asking again [s]", min=0.0)
    goal_tolerance_m: float = param(0.05, "Plan counts as done within this distance of its end [m]", min=0.0)
    goal_tolerance_deg: float = param(4.0, "... and this yaw error [deg]", min=0.0)
    settle_speed: float = param(0.05, "... and below this speed [m/s, rad/s]", min=0.0)
    frame_timeout_s: float = param(1.0, "A camera frame older than this is not reasoned on [s]", min=0.05)
    odom_timeout_s: float = param(0.5, "Odometry older than this blocks reasoning [s]", min=0.05)
    health_period_s: float = param(1.0, "Probe a remote model server this often; 0 disables [s]", min=0.0)
    heartbeat_hz: float = param(2.0, "Republish the current plan at this rate as a liveness signal [Hz]", min=0.0)
    parse: ParseLimits = nested(ParseLimits, "Caps applied to parsed replies")
    # A reply is republished in every status at several Hz: a huge one must not be.
    status_text_chars: int = param(4000, "Model text carried in nav_r1/status is cut to this length [chars]",
                                   min=100, max=1_000_000)
    request_timeout_s: float = param(15.0, "Deadline of one request to a model server (openai backend) [s]",
                                     min=0.1, max=3600.0)

    def __post_init__(self) -> None:
        validate_params(self)


@dataclass(frozen=True)
class Outcome:
    """What to publish after a reply: a plan (possibly empty = hold) and the status record."""

    plan_id: int
    poses: tuple[Pose2D, ...]
    status: ReasoningStatus
    stop: bool
    publish_plan: bool


@dataclass
class _PlanState:
    plan_id: int = 0
    poses: tuple[Pose2D, ...] = ()
    made_at: float = -math.inf
    stop: bool = False
    obs_stamp: float = 0.0


@dataclass
class ReasoningCore:
    """Decides when to reason, builds observations, and turns replies into plans."""

    config: ReasoningConfig
    instruction: str = ""
    generation: int = 0
    failures: int = 0
    replies: int = 0
    _frame: Frame | None = None
    _history: deque[Frame] = field(default_factory=deque)
    _pose: Pose2D | None = None
    _speed: float = 0.0
    _odom_stamp: float = -math.inf
    _plan: _PlanState = field(default_factory=_PlanState)
    _retry_after: float = -math.inf
    _holding: str | None = None
    _busy: bool = False  # an inference or a health probe is in flight (one at a time)

    def set_instruction(self, text: str, now: float) -> bool:
        """A new instruction supersedes everything in flight; returns False for blank text."""
        text = text.strip()
        if not text:
            return False
        self.instruction = text
        self.generation += 1
        self._plan = _PlanState(plan_id=self._plan.plan_id)
        self._retry_after = -math.inf
        self._history.clear()
        return True

    def on_frame(self, frame: Frame) -> None:
        """Keep the newest frame, and history frames spaced by ``history_stride_s``."""
        if self._frame is not None and (
            not self._history or self._frame.stamp - self._history[-1].stamp >= self.config.history_stride_s
        ):
            self._history.append(self._frame)
            while len(self._history) > self.config.history_size:
                self._history.popleft()
        self._frame = frame

    def on_odom(self, pose: Pose2D, speed: float, stamp: float) -> None:
        """The robot's pose in the odometry frame and its speed (max of |v| and |w|)."""
        self._pose, self._speed, self._odom_stamp = pose, speed, stamp

    def plan_done(self) -> bool:
        """True when the robot has reached the end of the current plan and settled."""
        if not self._plan.poses or self._pose is None:
            return not self._plan.stop
        end = self._plan.poses[-1]
        dist = math.hypot(end.x - self._pose.x, end.y - self._pose.y)
        dz = abs(end.z - self._pose.z)
        dyaw = abs(math.degrees(wrap_angle(end.yaw - self._pose.yaw)))
        return (
            max(dist, dz) <= self.config.goal_tolerance_m
            and dyaw <= self.config.goal_tolerance_deg
            and self._speed <= self.config.settle_speed
        )

    def blocked_reason(self, now: float) -> str | None:
        """Why no inference should start now, or None when it should."""
        if not self.instruction:
            return "no instruction"
        if self._busy:
            return "busy"
        if self._holding is not None:
            return f"holding: {self._holding}"
        if self._plan.stop:
            return "stopped"
        if now < self._retry_after:
            return "backoff"
        if self._frame is None or now - self._frame.stamp > self.config.frame_timeout_s:
            return "no fresh camera frame"
        if self._pose is None or now - self._odom_stamp > self.config.odom_timeout_s:
            return "no fresh odometry"
        if self._plan.poses and not self.plan_done() and now - self._plan.made_at < self.config.max_plan_age_s:
            return "executing"
        return None

    def observe(self, now: float) -> Observation:
        """The observation for the next inference; marks the core busy until :meth:`on_reply`."""
        assert self._frame is not None
        self._busy = True
        return Observation(
            instruction=self.instruction,
            frame=self._frame,
            history=tuple(self._history),
            pose=self._pose,
            stamp=self._frame.stamp,
            extra={"action_space": self.config.action_space, "now": now},
            generation=self.generation,
        )

    def on_reply(self, obs: Observation, response: Response, now: float) -> Outcome | None:
        """Parse a reply into a plan anchored at the pose the observation was taken from.

        Returns None when the reply belongs to a superseded instruction.
        """
        self._busy = False
        if obs.generation != self.generation:
            return None
        self.replies += 1
        result: ParseResult | None = None
        error = response.error
        if error is None:
            result = parse_response(response.text, self.config.parse)
            if not result.ok:
                error = f"parse: {result.failure}"
        limit = self.config.status_text_chars
        status = ReasoningStatus(
            state=ReasoningState.FAILED, stamp=now, instruction=obs.instruction, obs_stamp=obs.stamp,
            model=response.model, raw=bounded_text(response.text, limit), timings=dict(response.timings),
            reasoning=bounded_text(result.reasoning, limit) if result else "",
            actions=tuple(a.to_text() for a in result.actions) if result and result.ok else (),
            error=bounded_text(error, limit) if error is not None else None,
        )
        if error is not None or result is None or obs.pose is None:
            self.failures += 1
            self._retry_after = now + self.config.retry_backoff_s
            status = replace(status, plan_id=self._plan.plan_id, failures=self.failures)
            return Outcome(self._plan.plan_id, self._plan.poses, status, stop=False, publish_plan=False)
        poses = actions_to_poses(obs.pose, result.actions)
        stop = ends_with_stop(result.actions)
        plan_id = self._plan.plan_id + 1
        self._plan = _PlanState(plan_id=plan_id, poses=poses, made_at=now, stop=stop, obs_stamp=obs.stamp)
        state = ReasoningState.STOPPED if stop and not poses else ReasoningState.PLANNED
        status = replace(status, state=state, plan_id=plan_id, stop=stop, failures=self.failures)
        return Outcome(plan_id, poses, status, stop=stop, publish_plan=True)

    def direct(self, label: str, poses: tuple[Pose2D, ...], now: float) -> Outcome:
        """Drive ``poses`` for a scene question or plan step (empty: hold); supersedes the instruction.

        The instruction is dropped (no inference starts until the next one) and a reply in flight
        is discarded, so one node publishes one plan: the last of an instruction and a directed goal.
        """
        self.instruction = ""
        self.generation += 1
        self._history.clear()
        self._retry_after = -math.inf
        plan_id = self._plan.plan_id + 1
        self._plan = _PlanState(plan_id=plan_id, poses=poses, made_at=now, stop=not poses, obs_stamp=now)
        end = poses[-1] if poses else None
        actions = (f"goto {end.x:.3f} {end.y:.3f} {end.yaw:.4f}",) if end is not None else ("hold",)
        status = ReasoningStatus(ReasoningState.DIRECTED, stamp=now, instruction=label, plan_id=plan_id,
                                 obs_stamp=now, stop=not poses, failures=self.failures, model="scene",
                                 actions=actions)
        return Outcome(plan_id, poses, status, stop=not poses, publish_plan=True)

    @property
    def pose(self) -> Pose2D | None:
        """The latest odometry pose (None before any)."""
        return self._pose

    def begin_probe(self) -> bool:
        """Claim the model for a health probe; False while a reply (or another probe) is in flight."""
        if self._busy:
            return False
        self._busy = True
        return True

    def end_probe(self, problem: str | None, now: float) -> Outcome | None:
        """A probe started with :meth:`begin_probe` finished: release the model, apply the verdict."""
        self._busy = False
        return self.on_health(problem, now)

    def instructed(self, now: float) -> ReasoningStatus:
        """The status that acknowledges the current instruction."""
        return ReasoningStatus(ReasoningState.INSTRUCTED, stamp=now, instruction=self.instruction,
                               plan_id=self._plan.plan_id, failures=self.failures)

    def on_health(self, problem: str | None, now: float) -> Outcome | None:
        """A health probe's verdict: hold (empty plan) when the model became unreachable, resume after.

        The fast node stops on the empty plan at once instead of finishing a plan nobody can
        revise; when the model answers again the next reply plans from wherever the robot is.
        """
        base = ReasoningStatus(ReasoningState.RESUMED, stamp=now, instruction=self.instruction,
                               failures=self.failures,
                               error=bounded_text(problem, self.config.status_text_chars) if problem else None)
        if problem is None:
            if self._holding is None:
                return None
            self._holding = None
            status = replace(base, plan_id=self._plan.plan_id)
            return Outcome(self._plan.plan_id, self._plan.poses, status, stop=False, publish_plan=False)
        if self._holding is not None or not self.instruction or self._plan.stop:
            return None
        self._holding = problem
        plan_id = self._plan.plan_id + 1
        self._plan = _PlanState(plan_id=plan_id, made_at=now)
        status = replace(base, state=ReasoningState.HOLDING, plan_id=plan_id, obs_stamp=now)
        return Outcome(plan_id, (), status, stop=False, publish_plan=True)

    @property
    def busy(self) -> bool:
        """True while an inference or a health probe is in flight."""
        return self._busy

    @property
    def holding(self) -> bool:
        """True while the model is unreachable and the robot holds."""
        return self._holding is not None

    @property
    def plan(self) -> tuple[int, tuple[Pose2D, ...], float]:
        """The current plan: id, poses, and the stamp of the observation it came from."""
        return self._plan.plan_id, self._plan.poses, self._plan.obs_stamp

    @property
    def stopped(self) -> bool:
        """True once the model said stop for the current instruction."""
        return self._plan.stop
