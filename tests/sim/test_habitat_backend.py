"""Habitat backend: every part that does not need habitat-sim (which cannot be installed here)."""

import importlib.util
import math

import numpy as np
import pytest

from r1_sim import habitat_backend as hb
from r1_sim.world import SimConfig, make_simulator


@pytest.mark.parametrize("yaw", [0.0, 0.5, math.pi / 2, -2.0, 3.0])
def test_yaw_round_trip_and_forward_direction(yaw):
    q = hb.yaw_to_habitat_quat(yaw)
    assert hb.habitat_quat_to_yaw(q) == pytest.approx(yaw)
    # Rotate habitat's local forward (-z) by q and map it back: it must point along our yaw.
    w, x, y, z = q
    rot = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                    [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                    [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])
    fwd = hb.habitat_to_world(rot @ np.array([0.0, 0.0, -1.0]))
    assert fwd[0] == pytest.approx(math.cos(yaw)) and fwd[1] == pytest.approx(math.sin(yaw))


def test_point_and_velocity_conversions():
    p = hb.world_to_habitat(1.0, 2.0, 3.0)
    np.testing.assert_allclose(p, [1.0, 3.0, -2.0])
    assert hb.habitat_to_world(p) == (1.0, 2.0, 3.0)
    lin, ang = hb.body_twist_to_habitat(0.5, 0.2, 0.1, 0.3)
    np.testing.assert_allclose(lin, [-0.2, 0.1, -0.5])  # forward is local -z, left is -x
    np.testing.assert_allclose(ang, [0.0, 0.3, 0.0])  # a left turn is +y (y up)
    np.testing.assert_allclose(hb.body_to_habitat_local(np.array([0.3, 0.05, 0.04])), [-0.05, 0.04, -0.3])


def test_intrinsics_match_the_mujoco_convention():
    hfov = hb.hfov_from_vfov(60.0, 320, 240)
    k = hb.intrinsics_from_hfov(320, 240, hfov)
    assert k[1, 1] == pytest.approx(120 / math.tan(math.radians(30)))  # same camera as fovy 60
    assert k[0, 0] == pytest.approx(k[1, 1]) and k[0, 2] == 159.5 and k[1, 2] == 119.5


@pytest.mark.skipif(importlib.util.find_spec("habitat_sim") is not None, reason="habitat-sim is installed")
def test_missing_habitat_sim_gives_install_instructions():
    with pytest.raises(ImportError, match="conda install habitat-sim"):
        hb.HabitatSimulator("dog", "/nowhere/scene.glb", SimConfig())
    with pytest.raises(ImportError, match="backend 'mujoco'"):
        make_simulator("habitat", "dog", habitat_scene="/nowhere/scene.glb")
    with pytest.raises(ValueError, match="needs habitat_scene"):
        make_simulator("habitat", "dog")
