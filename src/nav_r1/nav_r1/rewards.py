"""Verifiable rewards of the R1 recipe, each a function of one completion; none raises on model text.

Navigation (Nav-R1, arXiv 2509.10884):

* :func:`format_reward` -- R_format ∈ {0, 1}: exactly one ``<think>…</think>`` then exactly one
  ``<action>…</action>`` (``<answer>…</answer>`` for question rows), nothing but whitespace
  around them, and an action that :func:`r1_core.nav.parse.parse_response` accepts.
* :func:`navigation_reward` -- R_path + R_end: the reply's actions are executed from the start
  pose (:func:`nav_r1.plan.actions_to_poses`, the plan the reasoning node would publish);
  R_path = exp(−k·DFD(P̂, reference)) with the discrete Fréchet distance of
  :mod:`r1_core.trajectory`, R_end = exp(−k·‖p̂_last − goal‖).
* :func:`understanding_reward` -- R_ans (normalised exact match of ``<answer>``) plus an optional
  R_sem, the cosine similarity of sentence embeddings from a *local* sentence-transformers model.

Arm (VLA-R1, arXiv 2510.01623): :func:`affordance_reward`, :func:`trajectory_reward`,
:func:`vla_format_reward` and :func:`vla_reward` wrap :mod:`vla_r1.rewards` (GIoU, ALAF) so they
take the reply text, like the navigation rewards; the formulas live there only.

3D scene understanding (3D-R1): :func:`perception_reward` (3D IoU of the grounded box),
:func:`semantic_reward` (embedding similarity of the answer), :func:`scene_format_reward` and
:func:`scene_reward` (their weighted sum for one dataset row) are :mod:`nav_r1.scene.rewards`',
exported here so one module holds every reward of the recipe.

Model text is untrusted: replies longer than ``MAX_REPLY_CHARS`` or with bracket nesting deeper
than ``MAX_NESTING`` score 0 without being decoded (a deeply nested JSON list would otherwise
exhaust Python's recursion limit inside ``json.loads``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nav_r1.plan import actions_to_poses
from nav_r1.scene.rewards import format_reward as scene_format_reward
from nav_r1.scene.rewards import perception_reward, scene_reward, semantic_reward
from r1_core.embeddings import TextEmbedder
from r1_core.jsonsafe import nesting_depth
from r1_core.nav.actions import Action
from r1_core.nav.parse import ParseLimits, parse_response
from r1_core.reasoner import Pose2D
from r1_core.trajectory import discrete_frechet
from vla_r1 import rewards as vla
from vla_r1.parse import Box, ParsedReply
from vla_r1.parse import parse_response as vla_parse

#: Longest reply scored; longer ones are truncated generations or prompt echoes.
MAX_REPLY_CHARS = 16384
#: Deepest ``[``/``{`` nesting decoded in a VLA-R1 ``<output>`` (a box is 1 deep, a trajectory 2).
MAX_NESTING = 32

_TAG = re.compile(r"<\s*/?\s*(think|action|answer|output)\b[^>]*>", re.IGNORECASE)
_STRICT_NAV = re.compile(
    r"^\s*<think>(?P<think>.*?)</think>\s*<(?P<tag>action|answer)>(?P<body>.*?)</(?P=tag)>\s*$",
    re.DOTALL,
)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_LIMITS = ParseLimits()

StartPose = Pose2D | Sequence[float]


def _too_big(text: object) -> bool:
    return not isinstance(text, str) or len(text) > MAX_REPLY_CHARS


def format_reward(text: str, *, question: bool = False) -> float:
    """1.0 for ``<think>…</think><action>…</action>`` (``<answer>`` when ``question``) and nothing else.

    The think block must be non-empty and hold no other tag; an action must parse to at least one
    action, an answer must be non-empty.
    """
    if _too_big(text):
        return 0.0
    m = _STRICT_NAV.match(text)
    if m is None or m.group("tag") != ("answer" if question else "action"):
        return 0.0
    if len(_TAG.findall(text)) != 4 or not m.group("think").strip() or not m.group("body").strip():
        return 0.0
    if question:
        return 1.0
    parsed = parse_response(text, _LIMITS)
    return 1.0 if parsed.ok and parsed.actions else 0.0


def _start_pose(start: StartPose) -> Pose2D:
    if isinstance(start, Pose2D):
        return start
    x, y, yaw = (float(v) for v in start[:3])
    return Pose2D(x, y, yaw)


def _xy(points: ArrayLike, what: str) -> NDArray[np.float64]:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] < 2 or not np.all(np.isfinite(arr[:, :2])):
        raise ValueError(f"{what} must be finite (N >= 1, >= 2) points, got shape {arr.shape}")
    return arr[:, :2]


def executed_poses(start: StartPose, actions: Sequence[Action]) -> NDArray[np.float64]:
    """(N, 2) positions: the start, then after each action (forward moves along the heading)."""
    s = _start_pose(start)
    poses = actions_to_poses(s, actions)
    if not poses:
        return np.array([[s.x, s.y]], dtype=np.float64)
    return np.array([(p.x, p.y) for p in poses], dtype=np.float64)


def path_reward(path: ArrayLike, reference: ArrayLike, k: float = 1.0) -> float:
    """R_path = exp(−k·DFD(path, reference)) on (x, y); also used on recorded runs by the bag evaluator."""
    return math.exp(-k * discrete_frechet(_xy(path, "path"), _xy(reference, "reference")))


def endpoint_reward(end: ArrayLike, goal: ArrayLike, k: float = 1.0) -> float:
    """R_end = exp(−k·‖end − goal‖) on (x, y)."""
    e, g = _xy(end, "end")[-1], _xy(goal, "goal")[-1]
    return math.exp(-k * float(np.linalg.norm(e - g)))


def navigation_reward(
    text: str, start: StartPose, reference: ArrayLike, goal: ArrayLike, k: float = 1.0
) -> float:
    """R_path + R_end of the reply's actions executed from ``start`` = (x, y, yaw); 0 when none parse.

    ``reference`` (N, ≥2) and ``goal`` (x, y) are data, not model text: malformed ones raise
    ``ValueError`` naming the argument (the dataset loader validates them first).
    """
    ref = _xy(reference, "reference")
    g = _xy(goal, "goal")
    if _too_big(text):
        return 0.0
    parsed = parse_response(text, _LIMITS)
    if not parsed.ok or not parsed.actions:
        return 0.0
    path = executed_poses(start, parsed.actions)
    return path_reward(path, ref, k) + endpoint_reward(path[-1], g, k)


def action_match_reward(text: str, target: str) -> float:
    """1.0 when the reply's parsed actions equal those of ``target`` (an expert reply), else 0.0.

    Not one of Nav-R1's terms: with one action per reply R_path compares (x, y) positions only, so
    "turn left" and "turn right" score alike; this exact-match term (like R_ans for answers) tells
    them apart.  Its GRPO weight is an option of ``nav-r1 train grpo``.
    """
    if _too_big(text) or _too_big(target):
        return 0.0
    got, want = parse_response(text, _LIMITS), parse_response(target, _LIMITS)
    if not got.ok or not want.ok or not got.actions:
        return 0.0
    return 1.0 if got.actions == want.actions else 0.0


def normalise_answer(text: str) -> str:
    """Lower case, punctuation removed, whitespace collapsed (for exact-match answers)."""
    kept = "".join(" " if unicodedata.category(c).startswith("P") else c for c in text.lower())
    return " ".join(kept.split())


def semantic_similarity(a: str, b: str, model_path: str) -> float:
    """Cosine similarity of two texts' embeddings under the local model at ``model_path``, clipped to [0, 1]."""
    return TextEmbedder.shared(model_path).similarity(a, b)


def understanding_reward(text: str, answer: str, *, semantic_model: str | None = None) -> float:
    """R_ans (1 when the normalised ``<answer>`` equals ``answer``) + R_sem (with ``semantic_model``).

    R_sem is the clipped cosine similarity under the sentence-transformers model stored at the
    local path ``semantic_model`` (off by default; Nav-R1 uses CLIPScore, we use a text encoder).
    A reply without an ``<answer>`` block scores 0.
    """
    if _too_big(text):
        return 0.0
    found = _ANSWER.findall(text)
    if len(found) != 1 or not found[0].strip():
        return 0.0
    pred = normalise_answer(found[0])
    reward = 1.0 if pred and pred == normalise_answer(answer) else 0.0
    if semantic_model:
        reward += semantic_similarity(found[0].strip(), answer.strip(), semantic_model)
    return reward


# -- VLA-R1 (arm) ----------------------------------------------------------------------------------
def _vla_parse(text: str, task: str) -> ParsedReply | None:
    if _too_big(text) or nesting_depth(text) > MAX_NESTING:
        return None
    try:
        parsed = vla_parse(text, task)
    except RecursionError:  # belt and braces: MAX_NESTING keeps json.loads far from the limit
        return None
    return parsed if parsed.ok else None


def vla_format_reward(text: str, task: str) -> float:
    """VLA-R1's R_format: ``<think>…</think><output>…</output>`` whose output parses for ``task``."""
    if _vla_parse(text, task) is None:
        return 0.0
    return vla.format_reward(text, task)


def affordance_reward(text: str, target: Box) -> float:
    """R_aff = (GIoU + 1) / 2 of the reply's box against ``target`` ; 0 if none."""
    parsed = _vla_parse(text, "affordance")
    return vla.affordance_reward(parsed.box if parsed is not None else None, target)


def trajectory_reward(text: str, target: ArrayLike) -> float:
    """R_traj = 1 − normalised ALAF distance of the reply's waypoints to ``target`` (N, 2); 0 if none."""
    parsed = _vla_parse(text, "trajectory")
    return vla.trajectory_reward(parsed.points if parsed is not None else None, np.asarray(target, dtype=float))


def vla_reward(text: str, task: str, target: Box | ArrayLike) -> float:
    """VLA-R1's total: 0.9·task reward + 0.1·format reward."""
    if _vla_parse(text, task) is None:
        # Unparsable or oversized: the task and format terms are both 0.
        return 0.0
    return float(vla.total_reward(text, task, target if isinstance(target, Box) else np.asarray(target, float)))


__all__ = ["MAX_NESTING", "action_match_reward", "affordance_reward", "endpoint_reward", "executed_poses",
           "format_reward", "navigation_reward", "normalise_answer", "path_reward", "perception_reward",
           "scene_format_reward", "scene_reward", "semantic_reward", "semantic_similarity", "trajectory_reward",
           "understanding_reward", "vla_format_reward", "vla_reward"]
