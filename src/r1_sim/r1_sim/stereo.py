"""Clean rectified stereo pairs with ground-truth depth, rendered in procedural scenes.

For stereo depth training and evaluation (stereo_adapter): each sample is a rectified pair from
the URDF head cameras of the UAV (so viewpoints vary in height), the left camera's true depth, K
and the baseline.  ``underwater=True`` applies the standard underwater image-formation model
per view with that view's own depth: ``I = J * t + B * (1 - t)``, ``t = exp(-beta * d)`` with
red attenuated most (Akkaynak & Treibitz's revised model reduced to one coefficient per channel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from r1_core.reasoner import Pose2D
from r1_sim.navmap import NavMap
from r1_sim.scene import generate_scene
from r1_sim.world import SimConfig, Simulator


@dataclass(frozen=True)
class StereoSample:
    """A rectified pair: ``left``/``right`` (H, W, 3) uint8, ``depth_gt`` (H, W) float32 metres (left view).

    Disparity (pixels) of a left pixel with depth d is ``K[0, 0] * baseline / d``; ``depth_gt`` is 0
    where invalid (beyond ``SimConfig.max_depth_m``).
    """

    left: NDArray[np.uint8]
    right: NDArray[np.uint8]
    depth_gt: NDArray[np.float32]
    K: NDArray[np.float64]
    baseline: float
    scene_seed: int
    pose: Pose2D
    #: Ground-truth depth of the right view (for right-to-left consistency losses), metres.
    depth_right: NDArray[np.float32] | None = None

    @property
    def disparity_gt(self) -> NDArray[np.float32]:
        """Left-view disparity in pixels (0 where the depth is invalid)."""
        d = self.depth_gt
        out = np.zeros_like(d)
        ok = d > 0
        out[ok] = self.K[0, 0] * self.baseline / d[ok]
        return out


WaterParams = tuple[tuple[float, float, float], tuple[float, float, float]]


def water_params(rng: np.random.Generator) -> WaterParams:
    """Random attenuation ``beta`` (1/m per RGB channel) and veiling light ``B`` (0-1 per channel)."""
    # Jerlov coastal-water-like coefficients: red fades fastest, blue slowest; blue-green veil.
    beta = (float(rng.uniform(0.30, 0.55)), float(rng.uniform(0.06, 0.14)), float(rng.uniform(0.04, 0.10)))
    veil = (float(rng.uniform(0.02, 0.08)), float(rng.uniform(0.25, 0.40)), float(rng.uniform(0.35, 0.50)))
    return beta, veil


def apply_underwater(rgb: NDArray[np.uint8], depth: NDArray[np.float32], params: WaterParams) -> NDArray[np.uint8]:
    """``I = J * exp(-beta d) + B * (1 - exp(-beta d))`` per channel; invalid depth (0) counts as 20 m."""
    beta, veil = params
    d = np.where(depth > 0, depth, 20.0)[..., None].astype(np.float64)
    t = np.exp(-np.asarray(beta)[None, None, :] * d)
    out = rgb.astype(np.float64) / 255.0 * t + np.asarray(veil)[None, None, :] * (1.0 - t)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def render_stereo_dataset(
    n: int,
    seed: int,
    size: tuple[int, int] = (640, 480),
    underwater: bool = False,
    n_rooms: int = 4,
    fovy_deg: float = 60.0,
) -> list[StereoSample]:
    """Render ``n`` pairs at ``size`` = (width, height) from random free poses in seeded scenes.

    The same ``(n, seed, size, underwater)`` gives the same images.  A new scene is generated every
    8 samples so backgrounds vary; poses keep at least 0.8 m of median depth so pairs are useful.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    width, height = size
    rng = np.random.default_rng(seed)
    out: list[StereoSample] = []
    sim: Simulator | None = None
    navmap: NavMap | None = None
    scene_seed = 0
    try:
        while len(out) < n:
            if sim is None or len(out) % 8 == 0:
                if sim is not None:
                    sim.close()
                scene_seed = int(rng.integers(2**31))
                scene = generate_scene(scene_seed, n_rooms)
                sim = Simulator("uav", scene, SimConfig(width=width, height=height, fovy_deg=fovy_deg))
                navmap = NavMap(scene, robot_radius=0.35, resolution=0.1)
                free = navmap.free_cells_xy()
            assert navmap is not None
            for _ in range(50):
                xy = free[int(rng.integers(len(free)))]
                pose = Pose2D(float(xy[0]), float(xy[1]), float(rng.uniform(-math.pi, math.pi)),
                              float(rng.uniform(0.3, 1.9)))
                sim.reset(pose)
                depth = sim.render_depth()
                if np.median(depth[depth > 0]) >= 0.8 if np.any(depth > 0) else False:
                    break
            left, right = sim.render_stereo()
            depth_right = sim.render_depth(right=True)
            if underwater:
                params = water_params(rng)  # one water body for both views of a pair
                left = apply_underwater(left, depth, params)
                right = apply_underwater(right, depth_right, params)
            out.append(StereoSample(left, right, depth, sim.camera_intrinsics(), sim.stereo_baseline_m,
                                    scene_seed, sim.pose(), depth_right))
    finally:
        if sim is not None:
            sim.close()
    return out

