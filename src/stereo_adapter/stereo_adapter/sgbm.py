"""Classical backend: OpenCV StereoSGBM with a left-right consistency check."""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from r1_core.params import ParamError, param, validate_params
from stereo_adapter.backends import DisparityResult, StereoCalib, check_pair, to_gray

_MODES = {
    "sgbm": cv2.STEREO_SGBM_MODE_SGBM,
    "sgbm_3way": cv2.STEREO_SGBM_MODE_SGBM_3WAY,
    "hh": cv2.STEREO_SGBM_MODE_HH,
}


@dataclass(frozen=True)
class SgbmConfig:
    """StereoSGBM settings; P1/P2 follow OpenCV's recommended 8·n·b² and 32·n·b²."""

    # Disparity search range [px]; OpenCV needs a multiple of 16.
    num_disparities: int = param(64, "Disparity search range [px], a multiple of 16", min=16, max=512)
    # Matching block side; odd.
    block_size: int = param(5, "Matching block size [px], odd", min=1, max=21)
    # Margin by which the best cost must beat the second best [%].
    uniqueness_ratio: int = param(10, "Uniqueness margin [%]", min=0, max=100)
    # Speckle filter: regions smaller than this are removed (0 disables).
    speckle_window: int = param(100, "Speckle filter window [px], 0 disables", min=0, max=1000)
    speckle_range: int = param(2, "Speckle filter disparity range", min=0, max=64)
    # "3way" is OpenCV's fastest full-image mode at a small quality cost.
    mode: str = param("sgbm_3way", "SGBM mode", choices=tuple(_MODES))
    # Left-right check: "internal" is OpenCV's disp12MaxDiff test on its own cost volume (cheap);
    # "full" matches the mirrored pair a second time (about twice the cost).
    lr_check: str = param("internal", "Left-right consistency check", choices=("full", "internal", "off"))
    # Largest |d_left(x) - d_right(x - d_left)| accepted by the check [px].
    lr_max_diff: float = param(1.0, "Left-right check tolerance [px]", min=0.0, max=16.0)

    def __post_init__(self) -> None:
        validate_params(self)
        if self.num_disparities % 16:
            raise ParamError(f"parameter 'num_disparities' = {self.num_disparities} must be a multiple of 16")
        if self.block_size % 2 == 0:
            raise ParamError(f"parameter 'block_size' = {self.block_size} must be odd")


def left_right_check(
    disp_left: NDArray[np.float32], disp_right: NDArray[np.float32], max_diff: float
) -> NDArray[np.bool_]:
    """Pixels whose left disparity agrees with the right view's disparity at the matched pixel."""
    h, w = disp_left.shape
    xs = np.arange(w, dtype=np.float32)[None, :]
    xr = np.rint(xs - disp_left).astype(np.int64)
    inside = (xr >= 0) & (xr < w) & (disp_left > 0)
    rows = np.broadcast_to(np.arange(h)[:, None], (h, w))
    dr = disp_right[rows, np.clip(xr, 0, w - 1)]
    return inside & (dr > 0) & (np.abs(disp_left - dr) <= max_diff)


class SgbmBackend:
    """OpenCV StereoSGBM on the grey pair; disparities in pixels, invalid pixels marked."""

    name = "sgbm"

    def __init__(self, config: SgbmConfig | None = None) -> None:
        self.config = config or SgbmConfig()
        c = self.config
        channels = 1
        p1 = 8 * channels * c.block_size**2
        p2 = 32 * channels * c.block_size**2
        self._left = cv2.StereoSGBM.create(
            minDisparity=0,
            numDisparities=c.num_disparities,
            blockSize=c.block_size,
            P1=p1,
            P2=p2,
            disp12MaxDiff=int(np.ceil(c.lr_max_diff)) if c.lr_check == "internal" else -1,
            uniquenessRatio=c.uniqueness_ratio,
            speckleWindowSize=c.speckle_window,
            speckleRange=c.speckle_range,
            mode=_MODES[c.mode],
        )

    def compute(self, left: NDArray[np.uint8], right: NDArray[np.uint8], calib: StereoCalib) -> DisparityResult:
        """Match the pair; with ``lr_check='full'`` also match right-to-left and keep agreeing pixels."""
        t0 = time.perf_counter()
        lft, rgt = check_pair(left, right, calib)
        gl, gr = to_gray(lft), to_gray(rgt)
        disp = self._left.compute(gl, gr).astype(np.float32) / 16.0
        valid = disp > 0
        timings = {"match_ms": (time.perf_counter() - t0) * 1e3}
        if self.config.lr_check == "full":
            t1 = time.perf_counter()
            # The right view's disparity is the left matcher run on the mirrored pair, mirrored back.
            disp_r = self._left.compute(np.ascontiguousarray(gr[:, ::-1]), np.ascontiguousarray(gl[:, ::-1]))
            disp_r = disp_r[:, ::-1].astype(np.float32) / 16.0
            valid &= left_right_check(disp, disp_r, self.config.lr_max_diff)
            timings["lr_check_ms"] = (time.perf_counter() - t1) * 1e3
        disp[~valid] = 0.0
        return DisparityResult(disp, valid, 0.5, float(self.config.num_disparities), timings)
