"""VlaCore without ROS: freshness on the caller's clock (simulation time), inference, parsing and planning."""

from __future__ import annotations

import numpy as np
import pytest

from r1_core import topics
from r1_core.reasoner import Frame, Observation, Response
from vla_r1.core import INPUTS, ArmInputs, VlaCore, VlaCoreConfig
from vla_r1.geometry import Intrinsics, pixel_to_normalised, project, transform_points
from vla_r1.kinematics import DOWN, ArmKinematics
from vla_r1.planner import MotionPlanner

W, H = 160, 120
KMAT = np.array([[150.0, 0.0, 79.5], [0.0, 150.0, 59.5], [0.0, 0.0, 1.0]])
K = Intrinsics.from_matrix(KMAT, W, H)


class Replies:
    """A reasoner that answers from a list and records what it saw."""

    def __init__(self, *texts: str, error: str | None = None) -> None:
        self.texts, self.error, self.seen = list(texts), error, []  # type: ignore[var-annotated]

    @property
    def name(self) -> str:
        return "replies"

    def infer(self, observation: Observation) -> Response:
        self.seen.append(observation)
        if self.error:
            return Response.failure("replies", self.error)
        return Response(self.texts.pop(0), "replies")

    def reset(self) -> None:
        pass


@pytest.fixture(scope="module")
def arm():
    kin = ArmKinematics()
    base_from_cam = kin.urdf.link_pose("camera_color_optical_frame")
    u, v = np.meshgrid(np.arange(W), np.arange(H))
    rays = np.stack([(u - K.cx) / K.fx, (v - K.cy) / K.fy, np.ones((H, W))], axis=-1)
    depth = (-base_from_cam[2, 3] / (rays @ base_from_cam[:3, :3].T)[..., 2]).astype(np.float32)
    uv = project(transform_points(np.linalg.inv(base_from_cam), np.array([0.4, -0.05, 0.0])), K)
    x, y = pixel_to_normalised(float(uv[0]), float(uv[1]), K)
    reply = f'<think>the cube</think><output>{{"x": {x:.4f}, "y": {y:.4f}, "width": 0.05, "height": 0.05}}</output>'
    home = kin.ik(np.array([0.2, 0.24, 0.25]), DOWN).q
    joints = {**dict(zip(kin.joint_names, home.tolist(), strict=True)), "left_finger_joint": 0.04}
    inputs = ArmInputs(Frame(np.full((H, W, 3), 120, np.uint8), depth), K, joints)
    return kin, MotionPlanner(kin, base_from_cam), reply, inputs


def test_staleness_is_judged_on_the_callers_clock() -> None:
    core = VlaCore(Replies(), None, None, VlaCoreConfig(sensor_timeout_s=1.0, joint_state_timeout_s=0.5))  # type: ignore[arg-type]
    received = {t: 1000.0 for t in INPUTS}  # simulation time [s], nowhere near the wall clock
    assert core.stale_reason(received, 1000.4) == ""
    assert "'joint_states' is stale (0.60 s old, limit 0.5 s)" in core.stale_reason(received, 1000.6)
    assert f"'{topics.COLOR_IMAGE}' is stale" in core.stale_reason(received, 1001.5)
    del received[topics.DEPTH_IMAGE]
    assert core.stale_reason(received, 1000.0) == f"no message on '{topics.DEPTH_IMAGE}' yet"


def test_task_prefix_and_default() -> None:
    core = VlaCore(Replies(), None, None, VlaCoreConfig(default_task="trajectory"))  # type: ignore[arg-type]
    assert core.task_of("affordance: pick the cube") == ("affordance", "pick the cube")
    assert core.task_of("wipe the table") == ("trajectory", "wipe the table")


def test_a_reply_becomes_a_plan_and_refusals_carry_reasons(arm) -> None:
    kin, planner, reply, inputs = arm
    reasoner = Replies(reply, "<think>unsure</think><output>somewhere left</output>")
    core = VlaCore(reasoner, planner, kin, VlaCoreConfig())
    out = core.run("affordance", "pick up the red cube", inputs)
    assert out.plan is not None and out.status["state"] == "planned"
    assert out.status["reasoning"] == "the cube" and {"infer", "plan"} <= set(out.status["timings"])
    np.testing.assert_allclose(out.status["targets"]["surface"], [0.4, -0.05, 0.0], atol=5e-3)
    assert reasoner.seen[0].extra == {"task": "affordance"} and reasoner.seen[0].frame is inputs.frame
    bad = core.run("affordance", "pick up the blue cube", inputs)
    assert bad.plan is None and "JSON" in bad.status["reason"]
    lacking = ArmInputs(inputs.frame, K, {"shoulder_pan_joint": 0.0})
    assert "joint_states lacks" in core.run("affordance", "x", lacking).status["reason"]
    failing = VlaCore(Replies(error="server down"), planner, kin, VlaCoreConfig())
    assert failing.run("affordance", "x", inputs).status["reason"] == "reasoner: server down"
