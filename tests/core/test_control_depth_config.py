"""Depth projection into base_link and the control parameters (presets, bad values rejected)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from nav_r1.control import ControlConfig, DepthProjector
from nav_r1.control.config import DepthConfig
from nav_r1.control.depth import rpy_matrix
from r1_core.params import ParamError, from_mapping, to_flat

K = np.array([[200.0, 0.0, 80.0], [0.0, 200.0, 60.0], [0.0, 0.0, 1.0]])


def projector(**kw) -> DepthProjector:
    cfg = dataclasses.replace(DepthConfig(), **kw)
    return DepthProjector(K, 160, 120, cfg)


def test_wall_ahead_lands_in_front_of_the_base() -> None:
    p = projector(stride=1, base_T_camera=(0.2, 0.0, 0.3, 0.0, 0.0, 0.0), min_height=-10.0, max_height=10.0)
    depth = np.full((120, 160), 1.0, dtype=np.float32)
    points = p.points(depth)
    assert points.shape == (160 * 120, 3) and points.dtype == np.float32
    assert np.allclose(points[:, 0], 1.2, atol=1e-5)  # camera 0.2 m ahead of base_link, wall at 1 m
    # Image top is up, image left is +y (REP-103): pixel (0, 0) is up-left.
    top_left = points[0]
    assert top_left[1] > 0.0 and top_left[2] > 0.3
    centre = points[60 * 160 + 80]
    assert centre[1] == pytest.approx(0.0, abs=1e-6) and centre[2] == pytest.approx(0.3, abs=1e-6)


def test_invalid_depths_stride_and_height_band() -> None:
    p = projector(stride=2, min_range=0.2, max_range=3.0)
    depth = np.full((120, 160), 1.0, dtype=np.float32)
    depth[0:10] = np.nan
    depth[10:20] = 0.0
    depth[20:30] = np.inf
    depth[30:40] = 5.0
    points = p.points(depth)
    assert np.isfinite(points).all()
    z = points[:, 2]
    assert z.min() >= 0.05 and z.max() <= 1.5
    n_all = projector(stride=2, min_range=0.2, max_range=3.0, min_height=-9, max_height=9).points(depth).shape[0]
    assert n_all == 60 * 80 - 20 * 80  # rows 0-39 dropped: every other row of 40 rows
    with pytest.raises(ValueError, match="expected"):
        p.points(np.zeros((10, 10), dtype=np.float32))


def test_projection_matches_a_per_pixel_reference() -> None:
    rng = np.random.default_rng(3)
    extr = (0.1, -0.05, 0.4, 0.05, 0.3, -0.2)  # tilted down 0.3 rad, a little roll and yaw
    p = projector(stride=3, base_T_camera=extr, min_height=-9.0, max_height=9.0, max_range=9.0)
    depth = rng.uniform(0.5, 4.0, size=(120, 160)).astype(np.float32)
    got = p.points(depth)
    body_r_opt = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=np.float64)
    rot = rpy_matrix(*extr[3:]) @ body_r_opt
    ref = []
    for v in range(0, 120, 3):
        for u in range(0, 160, 3):
            d = float(depth[v, u])
            cam = np.array([(u - K[0, 2]) / K[0, 0] * d, (v - K[1, 2]) / K[1, 1] * d, d])
            ref.append(rot @ cam + np.array(extr[:3]))
    assert np.allclose(got, np.array(ref), atol=1e-4)


def test_bad_intrinsics_are_rejected() -> None:
    with pytest.raises(ValueError, match="fx"):
        DepthProjector(np.zeros((3, 3)), 160, 120, DepthConfig())


@pytest.mark.parametrize("name", ["dog", "wheeled", "uav"])
def test_presets_are_valid_and_round_trip(name: str) -> None:
    cfg = ControlConfig.for_profile(name)
    assert from_mapping(ControlConfig, to_flat(cfg)) == cfg
    assert cfg.rate_hz == 100.0 and cfg.output_stamped
    assert (cfg.profile == "uav") == (name == "uav")


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"rate_hz": 0.0}, "rate_hz"),
        ({"profile": "uva"}, "did you mean 'uav'"),
        ({"mux.input_priorities": [100]}, "mux.input_priorities"),
        ({"mux.lock_timeouts": [0.0, 1.0]}, "mux.lock_timeouts"),
        ({"mux.input_names": ["navigation", "key_vel"]}, "unique"),
        ({"zones.stop.points": [0.0, 0.0, 1.0]}, "zones.stop.points"),
        ({"zones.slowdown.slowdown_ratio": 1.5}, "slowdown_ratio"),
        ({"holonomic": True}, "max_vy"),
        ({"depth.base_T_camera": [0.0, 0.0, 0.0]}, "base_T_camera"),
        ({"depth.max_range": 0.05}, "max_range"),
        ({"pursuit.max_lookahead": 0.1}, "max_lookahead"),
        ({"limits.min_vx": 0.2}, "min_vx"),
        ({"timeouts.odm_s": 1.0}, "did you mean 'timeouts.odom_s'"),
    ],
)
def test_bad_parameters_are_rejected_with_the_name(overrides: dict, match: str) -> None:
    flat = to_flat(ControlConfig())
    flat.update(overrides)
    with pytest.raises(ParamError, match=match):
        from_mapping(ControlConfig, flat)


def test_unknown_profile_suggests_the_nearest() -> None:
    with pytest.raises(ParamError, match="did you mean 'dog'"):
        ControlConfig.for_profile("dgo")


def test_uav_preset_needs_vertical_limit() -> None:
    with pytest.raises(ParamError, match="max_vz"):
        dataclasses.replace(ControlConfig(), profile="uav")
    assert math.isclose(ControlConfig.for_profile("uav").limits.max_vz, 0.5)


def test_period_stats_report_jitter_and_reset() -> None:
    from nav_r1.control.stats import PeriodStats

    s = PeriodStats(0.01)
    for t in (0.0, 0.010, 0.021, 0.030, 0.040):
        s.tick(t)
    s.cost(0.0002)
    out = s.flush()
    assert out["ticks"] == 4 and out["periods_us"] == [10000, 11000, 9000, 10000]
    assert out["jitter_ms"]["max"] == pytest.approx(1.0)
    assert out["jitter_ms"]["p50"] == pytest.approx(0.5)
    assert out["tick_cost_ms"]["p50"] == pytest.approx(0.2)
    assert s.flush()["ticks"] == 0
