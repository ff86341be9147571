"""Physically based underwater degradation of clean stereo pairs (no ocean needed).

Per colour channel c and scene distance z (the revised underwater image formation model of
Akkaynak & Treibitz, simplified to one coefficient per channel)::

    I_c = J_c · exp(-β^D_c · z) + B^∞_c · (1 - exp(-β^B_c · z))

J is the clean image, β^D the wavelength-dependent attenuation of the direct signal (red is lost
first), B^∞ the veiling light and β^B the backscatter coefficient. Forward scattering (haze) is
a blur whose weight grows with distance; sensor noise is added last. Each view is degraded with
its own depth, so the pair stays photometrically consistent the way a real underwater pair is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_adapter.data import StereoSample, depth_left_to_right


@dataclass(frozen=True)
class WaterParams:
    """Optical properties of one water body (RGB order; coefficients per metre)."""

    beta_d: tuple[float, float, float] = (0.45, 0.12, 0.09)
    beta_b: tuple[float, float, float] = (0.35, 0.15, 0.12)
    veiling: tuple[float, float, float] = (0.06, 0.32, 0.42)
    # Forward-scatter blur: Gaussian sigma [px] reached at full haze, and its rate per metre.
    haze_sigma_px: float = 2.0
    haze_rate: float = 0.12
    noise_sigma: float = 2.0
    # Overall brightness of the illumination reaching the scene (depth-independent).
    illumination: float = 0.9


PRESETS: dict[str, WaterParams] = {
    "coastal": WaterParams(),
    "clear_ocean": WaterParams((0.30, 0.06, 0.05), (0.20, 0.07, 0.06), (0.03, 0.20, 0.38), 1.0, 0.06, 1.5, 0.95),
    "turbid": WaterParams((0.60, 0.25, 0.30), (0.55, 0.35, 0.35), (0.20, 0.35, 0.25), 3.0, 0.25, 3.0, 0.8),
}


def jitter(params: WaterParams, rng: np.random.Generator, scale: float = 0.2) -> WaterParams:
    """A random variation of ``params`` (every coefficient scaled by up to ±``scale``)."""

    def s(v: tuple[float, float, float]) -> tuple[float, float, float]:
        f = rng.uniform(1 - scale, 1 + scale, size=3)
        return (float(v[0] * f[0]), float(v[1] * f[1]), float(v[2] * f[2]))

    return replace(params, beta_d=s(params.beta_d), beta_b=s(params.beta_b), veiling=s(params.veiling))


def degrade_image(
    image: NDArray[np.uint8], depth_m: NDArray[np.float32], params: WaterParams, rng: np.random.Generator
) -> NDArray[np.uint8]:
    """Apply attenuation, backscatter, distance-dependent haze and noise to one RGB view."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"underwater degradation needs an HxWx3 RGB image, got shape {image.shape}")
    if depth_m.shape != image.shape[:2]:
        raise ValueError(f"depth {depth_m.shape} does not match image {image.shape[:2]}")
    z = np.where(np.isfinite(depth_m) & (depth_m > 0), depth_m, np.nanmax(depth_m[np.isfinite(depth_m)]))
    z = z.astype(np.float32)[..., None]
    clean = image.astype(np.float32) / 255.0 * params.illumination
    beta_d = np.asarray(params.beta_d, np.float32)
    beta_b = np.asarray(params.beta_b, np.float32)
    veil = np.asarray(params.veiling, np.float32)
    direct = clean * np.exp(-beta_d * z)
    backscatter = veil * (1.0 - np.exp(-beta_b * z))
    img = direct + backscatter
    if params.haze_sigma_px > 0:
        blurred = cv2.GaussianBlur(img, (0, 0), params.haze_sigma_px)
        w_haze = 1.0 - np.exp(-params.haze_rate * z)
        img = img * (1 - w_haze) + blurred * w_haze
    img = img * 255.0 + rng.normal(0.0, params.noise_sigma, img.shape)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def degrade_sample(sample: StereoSample, params: WaterParams, seed: int) -> StereoSample:
    """The same pair seen through water; ground truth is unchanged."""
    rng = np.random.default_rng(seed)
    depth_r = sample.depth_right
    if depth_r is None:
        depth_r = depth_left_to_right(sample.depth_gt, sample.calib.focal_baseline)
    left = degrade_image(sample.left, sample.depth_gt, params, rng)
    right = degrade_image(sample.right, depth_r, params, rng)
    return replace(sample, left=left, right=right)


def underwater_dataset(samples: list[StereoSample], preset: str = "coastal", seed: int = 0,
                       variation: float = 0.2) -> list[StereoSample]:
    """Degrade every sample with a per-pair random variation of a named water preset."""
    if preset not in PRESETS:
        raise ValueError(f"unknown water preset '{preset}'; choose one of {sorted(PRESETS)}")
    rng = np.random.default_rng(seed)
    out = []
    for i, s in enumerate(samples):
        out.append(degrade_sample(s, jitter(PRESETS[preset], rng, variation), seed * 7919 + i))
    return out
