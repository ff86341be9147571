"""Parse VLA-R1 replies (``<think>…</think><output>…</output>``) into normalised image geometry.

Two tasks: ``affordance`` answers a box ``{"x", "y", "width", "height"}`` (centre and size) and
``trajectory`` answers end-effector waypoints ``[[x, y], …]``.  Coordinates may come normalised to
[0, 1], in pixels of the input image, or in [0, 1000) (VLA-R1's evaluation scale); everything is
returned normalised to [0, 1].  A malformed, empty or out-of-image answer is a failure with a
reason, never an exception.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from r1_core.jsonsafe import check_bounds

Task = Literal["affordance", "trajectory"]
TASKS: tuple[str, ...] = ("affordance", "trajectory")
CoordScale = Literal["auto", "normalized", "pixels", "thousand"]
SCALES: tuple[str, ...] = ("auto", "normalized", "pixels", "thousand")

_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL | re.IGNORECASE)
_OUTPUT = re.compile(r"<output>(.*?)</output>", re.DOTALL | re.IGNORECASE)
_STRICT = re.compile(r"^\s*<think>.*?</think>\s*<output>.*?</output>\s*$", re.DOTALL | re.IGNORECASE)
# Small overshoots (a model writing 1.0005 or pixel 640 of a 640-wide image) are rounding, not errors.
_EDGE_TOL = 0.01


@dataclass(frozen=True)
class Box:
    """An axis-aligned box: centre (x, y) and size, normalised to the image."""

    x: float
    y: float
    width: float
    height: float

    def corners(self) -> tuple[float, float, float, float]:
        """(x1, y1, x2, y2) normalised."""
        return (self.x - self.width / 2, self.y - self.height / 2, self.x + self.width / 2, self.y + self.height / 2)


@dataclass(frozen=True)
class ParsedReply:
    """A parsed reply: ``box`` (affordance) or ``points`` (trajectory, (N, 2)) when ``ok``."""

    task: str
    ok: bool
    reasoning: str = ""
    box: Box | None = None
    points: NDArray[np.float64] | None = None
    scale: str = ""
    reason: str = ""
    strict_format: bool = False

    @classmethod
    def failure(cls, task: str, reason: str, reasoning: str = "", strict: bool = False) -> ParsedReply:
        """A failed parse with its reason."""
        return cls(task=task, ok=False, reasoning=reasoning, reason=reason, strict_format=strict)


def _load_json(text: str) -> Any:
    text = text.strip()
    if text.startswith("```"):  # models like to fence JSON
        text = re.sub(r"^```[a-zA-Z]*\s*|\s*```$", "", text)
    check_bounds(text)  # deep nesting would raise RecursionError inside json.loads
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        # Python-style literals: single quotes, tuples (the bound above counted every bracket).
        fixed = text.replace("'", '"').replace("(", "[").replace(")", "]")
        return json.loads(fixed)


def _choose_scale(values: NDArray[np.float64], scale: str, image_size: tuple[int, int] | None) -> str | None:
    """Pick how to read the coordinates: explicit, or the smallest scale they fit (None: none fits)."""
    peak = float(np.max(values)) if values.size else 0.0
    if scale != "auto":
        return scale
    if peak <= 1.0 + _EDGE_TOL:
        return "normalized"
    # Fractions below one beside larger values: a normalised answer that left the image (a pixel
    # or per-mille answer never has sub-unit coordinates or sizes).
    if np.any((values > 0.0) & (values < 1.0)):
        return "normalized"
    if image_size is not None and peak <= max(image_size) * (1 + _EDGE_TOL):
        return "pixels"
    if peak < 1000.0:
        return "thousand"
    return None


def _normalise(xy: NDArray[np.float64], scale: str, image_size: tuple[int, int] | None) -> NDArray[np.float64]:
    if scale == "normalized":
        return xy
    if scale == "thousand":
        return xy / 1000.0
    assert image_size is not None
    w, h = image_size
    return xy / np.array([w, h], dtype=float)


def _numbers(obj: Any, what: str) -> NDArray[np.float64]:
    try:
        arr = np.asarray(obj, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} holds non-numeric values: {exc}") from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} holds non-finite values")
    return arr


def _parse_box(obj: Any, scale: str, image_size: tuple[int, int] | None) -> tuple[Box, str]:
    if isinstance(obj, list) and len(obj) == 1 and isinstance(obj[0], dict):
        obj = obj[0]
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object with x, y, width, height; got {type(obj).__name__}")
    keys = {k.lower(): v for k, v in obj.items()}
    missing = [k for k in ("x", "y", "width", "height") if k not in keys]
    if missing:
        raise ValueError(f"box lacks {', '.join(missing)}")
    vals = _numbers([keys["x"], keys["y"], keys["width"], keys["height"]], "box")
    if np.any(vals < 0):
        raise ValueError(f"box has negative values {vals.tolist()}")
    chosen = _choose_scale(vals, scale, image_size)
    if chosen is None:
        raise ValueError(f"box values {vals.tolist()} fit no coordinate scale (out of the image)")
    if chosen == "pixels" and image_size is None:
        raise ValueError("pixel coordinates need the image size")
    n = _normalise(vals.reshape(2, 2), chosen, image_size).ravel()
    x, y, w, h = (float(v) for v in n)
    if w <= 0 or h <= 0:
        raise ValueError(f"box has zero size (width={w:.3f}, height={h:.3f})")
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise ValueError(f"box centre ({x:.3f}, {y:.3f}) is outside the image")
    # Clip the extent to the image: a box spilling over an edge still names a visible region.
    x1, y1 = max(0.0, x - w / 2), max(0.0, y - h / 2)
    x2, y2 = min(1.0, x + w / 2), min(1.0, y + h / 2)
    return Box((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), chosen


def _parse_points(obj: Any, scale: str, image_size: tuple[int, int] | None) -> tuple[NDArray[np.float64], str]:
    if isinstance(obj, dict):
        for key in ("trajectory", "points", "waypoints"):
            if key in obj:
                obj = obj[key]
                break
        else:
            raise ValueError(f"expected a list of [x, y] points; got an object with keys {sorted(obj)}")
    if isinstance(obj, list) and obj and all(isinstance(p, dict) for p in obj):
        obj = [[p.get("x"), p.get("y")] for p in obj]
    if not isinstance(obj, list) or not obj:
        raise ValueError("trajectory is empty")
    arr = _numbers(obj, "trajectory")
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"trajectory must be a list of [x, y] pairs, got shape {arr.shape}")
    if len(arr) < 2:
        raise ValueError("trajectory needs at least 2 points")
    if np.any(arr < 0):
        raise ValueError("trajectory has negative coordinates (outside the image)")
    chosen = _choose_scale(arr, scale, image_size)
    if chosen is None:
        raise ValueError(f"trajectory values up to {float(arr.max()):g} fit no coordinate scale (out of the image)")
    if chosen == "pixels" and image_size is None:
        raise ValueError("pixel coordinates need the image size")
    pts = _normalise(arr, chosen, image_size)
    bad = np.flatnonzero(np.any(pts > 1.0 + _EDGE_TOL, axis=1))
    if bad.size:
        raise ValueError(f"trajectory point {int(bad[0])} {pts[bad[0]].round(3).tolist()} is outside the image")
    return np.clip(pts, 0.0, 1.0), chosen


def parse_response(
    text: str, task: str, *, image_size: tuple[int, int] | None = None, scale: str = "auto"
) -> ParsedReply:
    """Parse a reply for ``task``; ``image_size`` is (width, height) for pixel coordinates.

    ``scale="auto"`` reads values ≤ 1 as normalised, then values within the image size as pixels,
    then values below 1000 as VLA-R1's [0, 1000) scale; name the scale to remove the ambiguity.
    """
    if task not in TASKS:
        return ParsedReply.failure(str(task), f"unknown task '{task}'; expected one of {', '.join(TASKS)}")
    if scale not in SCALES:
        return ParsedReply.failure(task, f"unknown coordinate scale '{scale}'; expected one of {', '.join(SCALES)}")
    if not isinstance(text, str) or not text.strip():
        return ParsedReply.failure(task, "empty reply")
    strict = bool(_STRICT.match(text))
    think = _THINK.search(text)
    reasoning = think.group(1).strip() if think else ""
    outputs = _OUTPUT.findall(text)
    if not outputs:
        return ParsedReply.failure(task, "no <output>…</output> block in the reply", reasoning, strict)
    body = outputs[-1].strip()
    if not body:
        return ParsedReply.failure(task, "empty <output> block", reasoning, strict)
    try:
        obj = _load_json(body)
    except json.JSONDecodeError as exc:
        return ParsedReply.failure(task, f"<output> is not valid JSON: {exc.msg} at {exc.pos}", reasoning, strict)
    try:
        if task == "affordance":
            box, chosen = _parse_box(obj, scale, image_size)
            return ParsedReply(task, True, reasoning, box=box, scale=chosen, strict_format=strict)
        pts, chosen = _parse_points(obj, scale, image_size)
        return ParsedReply(task, True, reasoning, points=pts, scale=chosen, strict_format=strict)
    except ValueError as exc:
        return ParsedReply.failure(task, str(exc), reasoning, strict)


def format_ok(text: str) -> bool:
    """True when the reply is exactly ``<think>…</think><output>…</output>`` with a non-empty think."""
    m = _STRICT.match(text or "")
    if not m:
        return False
    think = _THINK.search(text)
    return bool(think and think.group(1).strip())
