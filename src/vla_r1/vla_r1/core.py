"""The VLA core without ROS: input freshness, inference, parsing and planning for one instruction.

The node (:mod:`vla_r1.nodes.vla_node`) only converts messages and publishes; this core decides.
Freshness is judged on the time the caller passes in — the node's ROS clock, which is simulation
time under ``use_sim_time`` and bag time in a replay — never on the wall clock. Not thread-safe:
one worker thread owns it (the node's ``vla_worker``), so inference never blocks a callback.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from r1_core import topics
from r1_core.reasoner import Frame, Observation, Reasoner
from vla_r1.geometry import Intrinsics
from vla_r1.kinematics import ArmKinematics
from vla_r1.parse import parse_response
from vla_r1.planner import MotionPlan, MotionPlanner
from vla_r1.prompt import task_for_instruction

#: The inputs every instruction needs, in the order they are checked.
INPUTS: tuple[str, ...] = (topics.COLOR_IMAGE, topics.DEPTH_IMAGE, topics.COLOR_INFO, topics.JOINT_STATES)


@dataclass(frozen=True)
class VlaCoreConfig:
    """The node parameters the core reads (validated by the node's own config)."""

    default_task: str = "affordance"
    coord_scale: str = "auto"
    #: Images and camera_info older than this are refused [s].
    sensor_timeout_s: float = 1.0
    #: Joint states older than this are refused [s].
    joint_state_timeout_s: float = 0.5


@dataclass(frozen=True)
class ArmInputs:
    """One converted snapshot: the RGB-D frame (depth required, metres), intrinsics, joints [rad, m]."""

    frame: Frame
    intrinsics: Intrinsics
    joints: Mapping[str, float]


@dataclass
class VlaOutcome:
    """What one instruction came to: the status to publish and, when ``planned``, the motion to execute."""

    status: dict[str, Any]
    plan: MotionPlan | None = None


class VlaCore:
    """Instruction + inputs -> a motion plan or a refusal with its reason (see the module docstring)."""

    def __init__(self, reasoner: Reasoner, planner: MotionPlanner, kin: ArmKinematics,
                 config: VlaCoreConfig) -> None:
        self.reasoner, self.planner, self.kin, self.cfg = reasoner, planner, kin, config

    def task_of(self, text: str) -> tuple[str, str]:
        """(task, instruction) of an instruction message, with the default task when it has no prefix."""
        return task_for_instruction(text, self.cfg.default_task)

    def stale_reason(self, received: Mapping[str, float], now: float) -> str:
        """Why the inputs cannot be used at ``now`` (missing or too old), or ``""``; times on one clock [s]."""
        for topic in INPUTS:
            if topic not in received:
                return f"no message on '{topic}' yet"
            age = now - received[topic]
            limit = self.cfg.joint_state_timeout_s if topic == topics.JOINT_STATES else self.cfg.sensor_timeout_s
            if age > limit:
                return f"'{topic}' is stale ({age:.2f} s old, limit {limit} s)"
        return ""

    def run(self, task: str, instruction: str, inputs: ArmInputs) -> VlaOutcome:
        """Infer, parse and plan; every refusal is a status with ``state: refused`` and a reason."""
        status: dict[str, Any] = {"state": "refused", "task": task, "instruction": instruction}
        missing = [j for j in self.planner.joint_names if j not in inputs.joints]
        if missing:
            return VlaOutcome({**status, "reason": f"joint_states lacks {missing}"})
        q = np.array([inputs.joints[j] for j in self.kin.joint_names])
        grip = float(inputs.joints[self.planner.joint_names[-1]])
        k = inputs.intrinsics
        t0 = time.perf_counter()
        reply = self.reasoner.infer(Observation(instruction, inputs.frame, extra={"task": task}))
        t_infer = time.perf_counter() - t0
        status.update(model=reply.model, reply=reply.text, timings={**reply.timings, "infer": t_infer})
        if not reply.ok:
            return VlaOutcome({**status, "reason": f"reasoner: {reply.error}"})
        parsed = parse_response(reply.text, task, image_size=(k.width, k.height), scale=self.cfg.coord_scale)
        status["reasoning"] = parsed.reasoning
        t0 = time.perf_counter()
        depth = inputs.frame.depth
        if depth is None:
            return VlaOutcome({**status, "reason": "no depth image"})
        plan = self.planner.plan(parsed, depth, k, q, grip)
        status["timings"]["plan"] = time.perf_counter() - t0
        if not plan.ok or plan.trajectory is None:
            return VlaOutcome({**status, "reason": plan.reason})
        status["targets"] = {name: np.round(v, 4).tolist() for name, v in plan.targets.items()}
        return VlaOutcome({**status, "state": "planned"}, plan)


__all__ = ["INPUTS", "ArmInputs", "VlaCore", "VlaCoreConfig", "VlaOutcome"]
