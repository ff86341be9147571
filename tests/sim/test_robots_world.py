"""URDFs load in a URDF parser and agree with the MuJoCo world built from them."""

import math

import numpy as np
import pytest
import yourdfpy

from nav_r1.control.depth import base_T_optical
from nav_r1.graph import robot_params_file
from r1_core.params import node_parameters, read_param_file
from r1_core.reasoner import Pose2D
from r1_core.robots import MOBILE_ROBOTS
from r1_description import urdf_path
from r1_sim.robots import RobotError, load_robot_body, robot_profile
from r1_sim.scene import WALL_HEIGHT, Box, Room, Scene
from r1_sim.world import SimConfig, Simulator, make_simulator

ROBOTS = MOBILE_ROBOTS


@pytest.mark.parametrize("robot", ROBOTS)
def test_urdf_is_real_and_matches_our_reader(robot):
    urdf = yourdfpy.URDF.load(str(urdf_path(robot)))
    assert urdf.base_link == "base_link"
    total = 0.0
    for link in urdf.robot.links:
        if link.inertial is None:
            continue
        m, inertia = link.inertial.mass, np.asarray(link.inertial.inertia)
        total += m
        ev = np.linalg.eigvalsh(inertia)
        assert m > 0 and np.all(ev > 0), link.name  # positive definite
        assert ev[0] + ev[1] >= ev[2] - 1e-12, link.name  # triangle inequality of principal moments
    for joint in urdf.robot.joints:
        if joint.type in ("revolute", "continuous"):
            assert joint.limit is not None and joint.limit.effort > 0 and joint.limit.velocity > 0, joint.name
        if joint.type == "revolute":
            assert joint.limit.lower < joint.limit.upper, joint.name
    body = load_robot_body(robot)
    assert body.mass == pytest.approx(total)
    # The planning radius covers every collision shape, so a robot on a planned path cannot touch.
    assert body.footprint_radius < robot_profile(robot).radius
    for frame in ("camera_link", "camera_color_optical_frame", "camera_right_optical_frame"):
        np.testing.assert_allclose(body.frames[frame], urdf.get_transform(frame, "base_link"), atol=1e-9)
    # REP-103 optical frame: z forward (= base x), x right (= -base y), y down (= -base z).
    rot = body.frames["camera_color_optical_frame"][:3, :3]
    np.testing.assert_allclose(rot[:, 2], [1, 0, 0], atol=1e-9)
    np.testing.assert_allclose(rot[:, 0], [0, -1, 0], atol=1e-9)


def test_unknown_robot_is_named():
    with pytest.raises(RobotError, match=r"unknown robot 'dgo'.*did you mean 'dog'"):
        robot_profile("dgo")
    with pytest.raises(ValueError, match="unknown simulator backend 'gazebo'"):
        make_simulator("gazebo", "dog", None)


def _box_room():
    """An empty 8 m x 8 m room with a wall at x = 4."""
    t, h = 0.1, WALL_HEIGHT
    walls = (Box((0, -4, h / 2), (8, t, h)), Box((0, 4, h / 2), (8, t, h)),
             Box((-4, 0, h / 2), (t, 8, h)), Box((4, 0, h / 2), (t, 8, h)))
    return Scene("box", 0, (Room("office", -4, -4, 4, 4),), (), walls, ())


@pytest.fixture(scope="module")
def dog():
    sim = Simulator("dog", _box_room(), SimConfig(width=64, height=48))
    yield sim
    sim.close()


def test_velocity_is_followed_with_lag_and_accel_limit(dog):
    dog.reset(Pose2D(-2.0, 0.0, 0.0))
    assert dog.pose().z == pytest.approx(load_robot_body("dog").ground_clearance)
    dog.apply_command(0.8, 0.0, 0.0, 0.0)
    dog.step(0.1)
    assert 0.0 < dog.twist()[0] < 0.2  # accel limit 1.5 m/s^2 plus actuator lag
    dog.step(1.5)
    assert dog.twist()[0] == pytest.approx(0.8, abs=0.03)
    assert dog.pose().x > -1.5 and abs(dog.pose().y) < 1e-3
    dog.apply_command(0.0, 0.0, 0.0, 1.0)
    dog.step(2.0)
    assert dog.twist()[3] == pytest.approx(1.0, abs=0.03) and abs(dog.twist()[0]) < 0.02
    dog.apply_command(5.0, 0.0, 0.0, 0.0)  # clipped to the dog's 1.0 m/s
    dog.step(2.0)
    assert math.hypot(*dog.twist()[:2]) == pytest.approx(1.0, abs=0.03)
    with pytest.raises(ValueError, match="finite"):
        dog.apply_command(math.nan)
    with pytest.raises(ValueError, match="dt"):
        dog.step(-1.0)


def test_collisions_counted_once_per_contact(dog):
    dog.reset(Pose2D(2.5, 0.0, 0.0))
    dog.apply_command(0.6)
    dog.step(4.0)  # drives into the wall at x = 4 and keeps pushing
    assert dog.collisions == 1
    assert dog.pose().x < 4.0 - 0.3  # the wall holds the body
    dog.apply_command(-0.5)
    dog.step(1.0)
    dog.apply_command(0.6)
    dog.step(3.0)
    assert dog.collisions == 2


def test_depth_and_intrinsics_against_geometry(dog):
    dog.reset(Pose2D(1.0, 0.0, 0.0))
    rgb, depth = dog.render_rgbd()
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    assert depth.shape == (48, 64) and depth.dtype == np.float32
    cam = dog.camera_extrinsics()
    wall_face = 4.0 - 0.05
    expected = wall_face - (1.0 + cam[0, 3])
    # The wall is perpendicular to the optical axis: depth is the same across the wall region.
    assert float(depth[24, 32]) == pytest.approx(expected, abs=0.02)
    assert float(depth[20, 10]) == pytest.approx(expected, abs=0.02)
    k = dog.camera_intrinsics()
    assert k[1, 1] == pytest.approx(24 / math.tan(math.radians(30)))
    assert k[0, 2] == pytest.approx(31.5) and k[1, 2] == pytest.approx(23.5)
    left, right = dog.render_stereo()
    assert left.shape == right.shape == rgb.shape
    np.testing.assert_array_equal(left, rgb)
    assert dog.stereo_baseline_m == pytest.approx(0.10)


def test_uav_altitude_and_wheeled_no_sidestep():
    uav = Simulator("uav", _box_room(), SimConfig(width=32, height=24))
    uav.reset(Pose2D(0.0, 0.0, 0.0, 1.0))
    assert uav.pose().z == pytest.approx(1.0)
    uav.apply_command(0.0, 0.0, 0.4, 0.0)
    uav.step(2.0)
    assert 1.5 < uav.pose().z < 1.85  # 0.4 m/s for ~1.8 s after the ramp
    uav.apply_command(0.0, 0.0, -0.6, 0.0)
    uav.step(6.0)
    assert uav.pose().z == pytest.approx(0.15, abs=0.02)  # held above the floor by the joint limit
    wheeled = Simulator("wheeled", _box_room(), SimConfig(width=32, height=24))
    wheeled.reset(Pose2D(0.0, 0.0, 0.0))
    wheeled.apply_command(0.0, 0.5, 0.5, 0.0)
    wheeled.step(1.0)
    assert abs(wheeled.pose().y) < 1e-6 and wheeled.pose().z == pytest.approx(
        load_robot_body("wheeled").ground_clearance)


@pytest.mark.parametrize("robot", MOBILE_ROBOTS)
def test_the_robot_files_camera_is_the_simulators_camera(robot: str) -> None:
    """control_node's depth.base_T_camera (obstacles) and the scene memory's camera pose are the sim's.

    Both read the robot file's 6 numbers through ``nav_r1.control.depth.base_T_optical``; a wrong
    optical-frame convention or a stale file would put obstacles and fused clouds in the wrong place.
    """
    (params,) = node_parameters(read_param_file(robot_params_file(robot)), "control_node", "")
    ours = base_T_optical(params["depth"]["base_T_camera"])
    sim = Simulator(robot, _box_room(), SimConfig(width=32, height=24))
    try:
        np.testing.assert_allclose(ours, sim.camera_extrinsics(), atol=1e-6)
    finally:
        sim.close()
