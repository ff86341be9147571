"""Stereo samples with exact ground truth: analytic synthetic scenes and the simulator's renders.

The analytic scenes are layered textured planes (a slanted background and fronto-parallel boxes)
rendered separately into each view, so every pixel's disparity is known exactly, occlusions
included. They are fast enough for unit tests; the evaluation uses the MuJoCo renders from
``r1_sim.stereo`` when that module is installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from r1_sim.stereo import render_stereo_dataset
from stereo_adapter.backends import StereoCalib


@dataclass
class StereoSample:
    """A rectified RGB pair with left-view ground-truth depth (metres; NaN/0 = unknown)."""

    left: NDArray[np.uint8]
    right: NDArray[np.uint8]
    depth_gt: NDArray[np.float32]
    K: NDArray[np.float64]
    baseline: float
    depth_right: NDArray[np.float32] | None = None

    @property
    def calib(self) -> StereoCalib:
        """Calibration of this pair."""
        h, w = self.left.shape[:2]
        return StereoCalib.from_matrix(self.K, self.baseline, w, h)

    @property
    def disparity_gt(self) -> NDArray[np.float32]:
        """Ground-truth left disparity in pixels (0 where depth is unknown)."""
        d = self.depth_gt
        ok = np.isfinite(d) & (d > 0)
        out = np.zeros(d.shape, np.float32)
        out[ok] = self.calib.focal_baseline / d[ok]
        return out


@dataclass(frozen=True)
class SceneConfig:
    """Ranges the analytic scene generator samples from."""

    min_depth_m: float = 1.5
    # Far enough for a receding background, near enough that small test images keep >1 px disparity.
    max_depth_m: float = 8.0
    n_boxes: tuple[int, int] = (2, 5)
    # With fx ∝ width, disparity as a fraction of the width is size-independent: 0.25 m gives
    # ~12 % of the width at min_depth_m, so small test images still have useful disparities.
    baseline_m: float = 0.25
    # Horizontal field of view of ~70°: fx = 0.7·width.
    fx_over_width: float = 0.7
    noise_sigma: float = 1.5


def _texture(rng: np.random.Generator, h: int, w: int) -> NDArray[np.float32]:
    """Coloured multi-scale noise with a few strokes: textured enough to match, not i.i.d. noise."""
    tex = np.zeros((h, w, 3), np.float32)
    base = rng.uniform(0.2, 0.8, size=3).astype(np.float32)
    for octave, amp in ((4, 0.35), (16, 0.25), (64, 0.15)):
        small = rng.uniform(-1, 1, size=(max(2, h * octave // 256), max(2, w * octave // 256), 3))
        tex += amp * cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    tex += base
    for _ in range(max(3, h * w // 4000)):
        colour = tuple(float(c) for c in rng.uniform(0, 1, size=3))
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if rng.random() < 0.5:
            axes = (int(rng.integers(2, max(3, w // 16))), int(rng.integers(2, max(3, h // 16))))
            cv2.ellipse(tex, p1, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
        else:
            p2 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(tex, p1, p2, colour, int(rng.integers(1, 3)))
    return np.clip(tex, 0.0, 1.0)


def _coverage(xs: NDArray[np.float32], x0: float, x1: float) -> NDArray[np.float32]:
    """Fraction of each pixel [x-0.5, x+0.5) covered by the interval [x0, x1) (anti-aliasing)."""
    return np.clip(np.minimum(xs + 0.5, x1) - np.maximum(xs - 0.5, x0), 0.0, 1.0).astype(np.float32)


def synth_pair(seed: int, size: tuple[int, int] = (120, 160), config: SceneConfig | None = None) -> StereoSample:
    """One analytic stereo pair of ``size`` (h, w) with exact left and right depth."""
    cfg = config or SceneConfig()
    h, w = size
    rng = np.random.default_rng(seed)
    fx = cfg.fx_over_width * w
    fb = fx * cfg.baseline_m
    k_mat = np.array([[fx, 0.0, (w - 1) / 2], [0.0, fx, (h - 1) / 2], [0.0, 0.0, 1.0]])
    max_disp = fb / cfg.min_depth_m
    pad = int(np.ceil(max_disp)) + 2
    ys = np.arange(h, dtype=np.float32)[:, None]
    xs = np.arange(w, dtype=np.float32)[None, :]

    # Background: a plane receding towards the top of the image (depth varies by row only).
    z_top = rng.uniform(0.6, 1.0) * cfg.max_depth_m
    z_bot = rng.uniform(0.35, 0.7) * cfg.max_depth_m
    d_row = (fb / z_top + (fb / z_bot - fb / z_top) * ys / max(h - 1, 1)).astype(np.float32)
    layers: list[tuple[NDArray[np.float32], float, float, float, float, NDArray[np.float32]]] = []
    n_boxes = int(rng.integers(cfg.n_boxes[0], cfg.n_boxes[1] + 1))
    for _ in range(n_boxes):
        z = float(rng.uniform(cfg.min_depth_m, 0.6 * cfg.max_depth_m))
        bw, bh = rng.uniform(0.15, 0.45) * w, rng.uniform(0.15, 0.5) * h
        x0, y0 = float(rng.integers(0, max(1, int(w - bw)))), float(rng.integers(0, max(1, int(h - bh))))
        layers.append((np.full((h, 1), fb / z, np.float32), x0, x0 + round(bw), y0, y0 + round(bh),
                       _texture(rng, h, w + 2 * pad)))
    layers.sort(key=lambda layer: float(layer[0][0, 0]))  # far (small disparity) first

    views: list[NDArray[np.float32]] = []
    disps: list[NDArray[np.float32]] = []
    bg_tex = _texture(rng, h, w + 2 * pad)
    for shift in (0.0, 1.0):  # left view, then right view (texture sampled at x + d)
        map_y = np.broadcast_to(ys, (h, w)).astype(np.float32)
        map_x = (xs + shift * d_row + pad).astype(np.float32)
        img = cv2.remap(bg_tex, map_x, map_y, cv2.INTER_LINEAR)
        disp = np.broadcast_to(d_row, (h, w)).copy()
        for d, x0, x1, y0, y1, tex in layers:
            dv = float(d[0, 0])
            alpha = _coverage(xs, x0 - shift * dv, x1 - shift * dv) * _coverage(ys, y0, y1)
            layer = cv2.remap(tex, (xs + shift * dv + pad + np.zeros_like(map_y)).astype(np.float32), map_y,
                              cv2.INTER_LINEAR)
            img = img * (1 - alpha[..., None]) + layer * alpha[..., None]
            disp = np.where(alpha >= 0.5, np.float32(dv), disp).astype(np.float32)
        views.append(np.asarray(img, dtype=np.float32))
        disps.append(disp)
    out = []
    for img in views:
        noisy = img * 255.0 + rng.normal(0.0, cfg.noise_sigma, img.shape)
        out.append(np.clip(noisy + 0.5, 0, 255).astype(np.uint8))
    depth_l = (fb / disps[0]).astype(np.float32)
    depth_r = (fb / disps[1]).astype(np.float32)
    return StereoSample(out[0], out[1], depth_l, k_mat, cfg.baseline_m, depth_r)


def synth_dataset(n: int, seed: int, size: tuple[int, int] = (120, 160),
                  config: SceneConfig | None = None) -> list[StereoSample]:
    """``n`` analytic pairs; pair i uses seed ``seed * 100003 + i`` so datasets are reproducible."""
    return [synth_pair(seed * 100003 + i, size, config) for i in range(n)]


def depth_left_to_right(depth_left: NDArray[np.float32], focal_baseline: float) -> NDArray[np.float32]:
    """Forward-warp left depth into the right view (nearest surface wins; holes take the far side)."""
    h, w = depth_left.shape
    out = np.full((h, w), np.inf, np.float32)
    ok = np.isfinite(depth_left) & (depth_left > 0)
    ys, xs = np.nonzero(ok)
    z = depth_left[ys, xs]
    xr = np.rint(xs - focal_baseline / z).astype(np.int64)
    inside = (xr >= 0) & (xr < w)
    np.minimum.at(out, (ys[inside], xr[inside]), z[inside])
    # Disocclusion holes see the background: take the farthest valid neighbour along the row.
    holes = ~np.isfinite(out)
    if holes.any():
        filled = np.where(np.isfinite(out), out, 0).astype(np.float32)
        far = cv2.dilate(filled, np.ones((1, 9), np.uint8))
        out[holes] = far[holes]
        out[out <= 0] = np.nan
    return out


def simulator_dataset(n: int, seed: int, size: tuple[int, int]) -> list[StereoSample]:
    """The MuJoCo simulator's clean stereo renders at ``size`` (h, w) (``r1_sim`` is a declared dependency)."""
    samples = []
    for s in render_stereo_dataset(n, seed, (size[1], size[0])):  # r1_sim takes (width, height)
        depth = np.asarray(s.depth_gt, np.float32)
        k_mat = np.asarray(s.K, np.float64)
        depth_r = getattr(s, "depth_right", None)
        if depth_r is None:
            depth_r = depth_left_to_right(depth, float(k_mat[0, 0]) * abs(float(s.baseline)))
        samples.append(StereoSample(np.asarray(s.left, np.uint8), np.asarray(s.right, np.uint8), depth, k_mat,
                                    float(s.baseline), np.asarray(depth_r, np.float32)))
    return samples


def stack_rgb(images: Sequence[NDArray[np.uint8]]) -> NDArray[np.float32]:
    """Nx3xHxW float32 in [0, 1] from HxWx3 (or HxW) uint8 images."""
    arrs = [im if im.ndim == 3 else np.repeat(im[..., None], 3, axis=2) for im in images]
    return np.stack(arrs).astype(np.float32).transpose(0, 3, 1, 2) / 255.0
