"""The control stack on synthetic RGB-D: grasp and path plans, and every refusal."""

import numpy as np
import pytest

from vla_r1 import parse_response
from vla_r1.geometry import Intrinsics, pixel_to_normalised, project, transform_points
from vla_r1.kinematics import DOWN
from vla_r1.planner import MotionPlanner, PlannerConfig
from vla_r1.urdf import Urdf

K = Intrinsics(fx=300.0, fy=300.0, cx=159.5, cy=119.5, width=320, height=240)


@pytest.fixture(scope="module")
def scene(kin):
    """A flat table seen by the URDF's head camera, its depth computed by ray casting."""
    base_from_cam = Urdf.load(kin.urdf_file).link_pose("camera_color_optical_frame")
    u, v = np.meshgrid(np.arange(K.width), np.arange(K.height))
    rays = np.stack([(u - K.cx) / K.fx, (v - K.cy) / K.fy, np.ones_like(u, dtype=float)], axis=-1)
    dirs = rays @ base_from_cam[:3, :3].T
    # Optical depth z at which each ray meets the plane z = 0 in the base frame.
    depth = (-base_from_cam[2, 3] / dirs[..., 2]).astype(np.float32)
    depth[dirs[..., 2] >= 0] = 0.0
    home = kin.ik(np.array([0.2, 0.24, 0.25]), DOWN).q
    return base_from_cam, depth, home


def _norm(point, base_from_cam):
    uv = project(transform_points(np.linalg.inv(base_from_cam), point), K)
    return pixel_to_normalised(float(uv[0]), float(uv[1]), K)


def test_affordance_plan_reaches_the_grasp_and_closes(kin, scene):
    base_from_cam, depth, home = scene
    x, y = _norm(np.array([0.4, -0.05, 0.0]), base_from_cam)
    parsed = parse_response(
        f'<think>t</think><output>{{"x": {x}, "y": {y}, "width": 0.05, "height": 0.05}}</output>', "affordance"
    )
    cfg = PlannerConfig()
    plan = MotionPlanner(kin, base_from_cam, cfg).plan(parsed, depth, K, home, 0.04)
    assert plan.ok, plan.reason
    np.testing.assert_allclose(plan.targets["surface"], [0.4, -0.05, 0.0], atol=2e-3)
    traj = plan.trajectory
    assert plan.joint_names[-1] == "left_finger_joint" and traj.positions.shape[1] == 7
    q_grasp, _ = traj.sample(plan.events["grasp"])
    np.testing.assert_allclose(kin.fk(q_grasp[:6])[:3, 3], [0.4, -0.05, cfg.min_tcp_z], atol=3e-3)
    assert q_grasp[6] == pytest.approx(cfg.gripper_open)
    q_end, _ = traj.sample(plan.events["end"])
    assert q_end[6] == pytest.approx(cfg.gripper_closed)
    assert kin.fk(q_end[:6])[2, 3] == pytest.approx(cfg.min_tcp_z + cfg.lift_height, abs=3e-3)
    # Velocity limits of the URDF scaled by the config hold on every sample.
    limits = np.append(kin.velocity_limits, kin.gripper_velocity) * cfg.velocity_scale
    assert np.all(np.abs(traj.velocities) <= limits * (1 + 1e-6))
    assert all(kin.within_limits(q[:6]) for q in traj.positions)


def test_trajectory_plan_ends_hovering_over_the_goal(kin, scene):
    base_from_cam, depth, home = scene
    pts = [_norm(p, base_from_cam) for p in ([0.2, 0.24, 0.0], [0.3, 0.1, 0.0], [0.38, -0.1, 0.0])]
    body = "[" + ", ".join(f"[{x:.5f}, {y:.5f}]" for x, y in pts) + "]"
    parsed = parse_response(f"<think>t</think><output>{body}</output>", "trajectory")
    cfg = PlannerConfig()
    plan = MotionPlanner(kin, base_from_cam, cfg).plan(parsed, depth, K, home, 0.04)
    assert plan.ok, plan.reason
    end, _ = plan.trajectory.sample(plan.events["end"])
    np.testing.assert_allclose(kin.fk(end[:6])[:3, 3], [0.38, -0.1, cfg.hover_height], atol=3e-3)
    np.testing.assert_allclose(plan.trajectory.positions[0][:6], home)


def test_refusals_name_the_reason(kin, scene):
    base_from_cam, depth, home = scene
    planner = MotionPlanner(kin, base_from_cam)
    bad = parse_response("<think>t</think><output>nonsense</output>", "affordance")
    assert "reply not usable" in planner.plan(bad, depth, K, home, 0.04).reason
    # A hole in the depth where the box is.
    parsed = parse_response(
        '<think>t</think><output>{"x": 0.5, "y": 0.5, "width": 0.1, "height": 0.1}</output>', "affordance"
    )
    holed = depth.copy()
    holed[100:140, 140:180] = 0.0
    plan = planner.plan(parsed, holed, K, home, 0.04)
    assert not plan.ok and "cannot lift" in plan.reason and plan.trajectory is None
    # A box on the floor far beyond the table: the approach pose is out of reach.
    far = np.full_like(depth, 3.0)
    plan = planner.plan(parsed, far, K, home, 0.04)
    assert not plan.ok and "unreachable" in plan.reason
    assert "joint state" in planner.plan(parsed, depth, K, np.zeros(5), 0.04).reason


def test_config_is_validated():
    with pytest.raises(ValueError, match="velocity_scale"):
        PlannerConfig(velocity_scale=2.0)
    with pytest.raises(ValueError, match="depth_window"):
        PlannerConfig(depth_window=0)
