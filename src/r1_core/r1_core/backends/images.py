"""Image helpers shared by the backends: fit to a size budget, PNG data URLs both ways."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import threading
from collections import OrderedDict

import numpy as np
from numpy.typing import NDArray
from PIL import Image

_DATA_URL_PREFIXES = ("data:image/png;base64,", "data:image/jpeg;base64,", "data:image/jpg;base64,")


def fit_image(rgb: NDArray[np.uint8], max_side: int) -> NDArray[np.uint8]:
    """Downscale ``rgb`` (H, W, 3) so its longer side is at most ``max_side`` (never upscales)."""
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR), dtype=np.uint8)


def png_data_url(rgb: NDArray[np.uint8]) -> str:
    """Encode an (H, W, 3) uint8 image as a ``data:image/png;base64,...`` URL (lossless)."""
    return image_data_url(rgb, "png")


def image_data_url(rgb: NDArray[np.uint8], fmt: str = "png", jpeg_quality: int = 90) -> str:
    """Encode an (H, W, 3) uint8 image as a PNG (lossless) or JPEG (smaller, faster) data URL."""
    buf = io.BytesIO()
    img = Image.fromarray(np.ascontiguousarray(rgb))
    if fmt == "png":
        # Level 1: camera frames barely compress further and the robot's CPU time matters more.
        img.save(buf, format="PNG", compress_level=1)
    elif fmt == "jpeg":
        img.save(buf, format="JPEG", quality=jpeg_quality)
    else:
        raise ValueError(f"image format must be 'png' or 'jpeg', got {fmt!r}")
    return f"data:image/{fmt};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def decode_data_url(url: str, max_pixels: int = 4096 * 4096) -> NDArray[np.uint8]:
    """Decode a base64 PNG/JPEG data URL into (H, W, 3) uint8; raise ValueError naming the problem."""
    prefix = next((p for p in _DATA_URL_PREFIXES if url.startswith(p)), None)
    if prefix is None:
        shown = url[:40] + ("..." if len(url) > 40 else "")
        raise ValueError(f"image_url must be a base64 PNG or JPEG data URL (no remote fetches), got '{shown}'")
    try:
        raw = base64.b64decode(url[len(prefix) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"image_url holds invalid base64: {exc}") from None
    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.width * img.height > max_pixels:
                raise ValueError(f"image of {img.width}x{img.height} exceeds {max_pixels} pixels")
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"image_url is not a readable image: {exc}") from None


class DataUrlCache:
    """Fit-and-encode with memory: history frames are re-sent every call, so encode each once.

    Keyed by a SHA-1 digest of the pixels (about 1.5 ms for a 640x480 frame with SHA extensions, against
    tens of ms for PNG encoding), so a frame changed in place is re-encoded, never served stale.
    Thread-safe.
    """

    def __init__(self, fmt: str = "png", max_side: int | None = None, size: int = 16) -> None:
        if fmt not in ("png", "jpeg"):
            raise ValueError(f"image format must be 'png' or 'jpeg', got {fmt!r}")
        self.fmt = fmt
        self.max_side = max_side
        self.size = size
        self.hits = 0
        self.misses = 0
        self._cache: OrderedDict[tuple[tuple[int, ...], bytes], str] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, rgb: NDArray[np.uint8]) -> str:
        """The data URL of ``rgb`` after downscaling to ``max_side``."""
        arr = np.ascontiguousarray(rgb)
        key = (arr.shape, hashlib.sha1(arr.data.cast("B"), usedforsecurity=False).digest())
        with self._lock:
            url = self._cache.get(key)
            if url is not None:
                self._cache.move_to_end(key)
                self.hits += 1
                return url
        fitted = fit_image(arr, self.max_side) if self.max_side else arr
        url = image_data_url(fitted, self.fmt)
        with self._lock:
            self.misses += 1
            self._cache[key] = url
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return url
