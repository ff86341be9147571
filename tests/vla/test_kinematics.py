"""IK against the URDF: forward-kinematics round trips, limits, and clear refusals."""

import numpy as np
import pytest

from vla_r1.kinematics import DOWN, ArmKinematics


def test_chain_matches_the_urdf(kin: ArmKinematics):
    assert kin.joint_names[0] == "shoulder_pan_joint" and len(kin.joint_names) == 6
    # Straight up at zero: base 0.10 + shoulder 0.06 + 0.30 + 0.15 + 0.13 + 0.05 + flange 0.04 + tcp 0.10
    np.testing.assert_allclose(kin.fk(np.zeros(6))[:3, 3], [0.0, 0.0, 0.93], atol=1e-9)


def test_fk_ik_round_trips(kin: ArmKinematics):
    rng = np.random.default_rng(3)
    seed_q = np.array([0.0, 0.3, 1.2, 0.0, 1.6, 0.0])
    for _ in range(4):
        # Random reachable configurations near the working posture, then solve for their tcp.
        q = np.clip(seed_q + rng.uniform(-0.4, 0.4, 6), kin.lower, kin.upper)
        pose = kin.fk(q)
        r = kin.ik(pose[:3, 3], pose[:3, 2], seed=seed_q)
        assert r.ok, r.reason
        back = kin.fk(r.q)
        np.testing.assert_allclose(back[:3, 3], pose[:3, 3], atol=2e-3)
        assert float(back[:3, 2] @ pose[:3, 2]) > np.cos(np.radians(3))
        assert kin.within_limits(r.q)


def test_top_down_targets_on_the_table(kin: ArmKinematics):
    for p in ([0.3, -0.2, 0.03], [0.45, 0.1, 0.05], [0.35, 0.0, 0.2]):
        r = kin.ik(np.array(p), DOWN)
        assert r.ok, r.reason
        assert r.position_error < 2e-3 and kin.within_limits(r.q)


@pytest.mark.parametrize("target", [[1.2, 0.0, 0.1], [0.0, 0.0, 1.5], [0.6, 0.4, 0.0]])
def test_unreachable_targets_are_refused(kin: ArmKinematics, target):
    r = kin.ik(np.array(target), DOWN)
    assert not r.ok and r.q is None
    assert "unreachable" in r.reason or "no solution" in r.reason


def test_orientation_the_wrist_cannot_reach_is_refused(kin: ArmKinematics):
    # Inside the reach sphere but pointing the gripper up from below the table: no solution.
    r = kin.ik(np.array([0.2, 0.0, -0.3]), np.array([0.0, 0.0, 1.0]))
    assert not r.ok and r.q is None and r.reason


def test_bad_targets_are_refused_not_raised(kin: ArmKinematics):
    r = kin.ik(np.array([np.nan, 0.0, 0.1]), DOWN)
    assert not r.ok and "finite" in r.reason
    with pytest.raises(ValueError, match="6 joint"):
        kin.fk(np.zeros(5))


def test_cartesian_path_follows_the_line(kin: ArmKinematics):
    seed = kin.ik(np.array([0.3, -0.1, 0.15]), DOWN).q
    pts = np.array([[0.3, 0.1, 0.15], [0.42, 0.1, 0.06]])
    q, why = kin.ik_path(pts, DOWN, seed, max_deviation=0.004)
    assert q is not None, why
    np.testing.assert_allclose(kin.fk(q[-1])[:3, 3], pts[-1], atol=2e-3)
    # Midpoints of consecutive joint solutions stay near the Cartesian polyline.
    prev = kin.fk(seed)[:3, 3]
    for a, b in zip(np.vstack([seed, q[:-1]]), q, strict=False):
        mid = kin.fk((a + b) / 2)[:3, 3]
        pa, pb = kin.fk(a)[:3, 3], kin.fk(b)[:3, 3]
        d = pb - pa
        t = np.clip((mid - pa) @ d / (d @ d), 0, 1) if d @ d > 0 else 0
        assert np.linalg.norm(pa + t * d - mid) < 0.006
        prev = pb
    assert np.linalg.norm(prev - pts[-1]) < 3e-3


def test_cartesian_path_through_an_unreachable_point_is_refused(kin: ArmKinematics):
    seed = kin.ik(np.array([0.3, 0.0, 0.15]), DOWN).q
    q, why = kin.ik_path(np.array([[0.35, 0.0, 0.1], [1.0, 0.0, 0.1]]), DOWN, seed)
    assert q is None and "waypoint 1" in why and "unreachable" in why
