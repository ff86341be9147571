"""Nav-CoT rows: the on-disk record of one reasoning step, validated on load, and its prompt.

A row carries Nav-CoT-110K's released fields -- ``instruction``, ``history_images`` (history views
oldest first, then the current view; paths relative to the dataset folder), ``action_space`` and
``target`` (the reply ``<think>…</think><action>…</action>``) -- plus what the rewards and the
splits need: ``id``, ``episode_id``, ``scene``, ``robot``, ``step``, ``pose`` (x, y, yaw, z in the
odometry frame when the step was taken), ``goal`` (x, y), ``reference_path`` (the episode's
shortest path, (N, 2)), ``expert_path`` (the target's actions executed from ``pose``, (M, 2)),
``history_size`` and ``max_actions`` (the prompt's settings).

:func:`row_prompt` rebuilds the chat with the reasoning node's own :class:`~nav_r1.prompt.NavPrompt`,
so what a model is trained on is what the node sends it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from nav_r1.prompt import NavPrompt
from r1_core.backends.transformers_vlm import hf_chat
from r1_core.reasoner import ChatMessage, Frame, Observation, Pose2D

SPLITS: tuple[str, ...] = ("train", "val", "test")
#: Row fields every dataset row must have, with their JSON types.
REQUIRED_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str, "instruction": str, "history_images": list, "action_space": list, "target": str,
    "episode_id": str, "scene": str, "robot": str, "step": int, "pose": dict, "goal": list,
    "reference_path": list, "expert_path": list, "history_size": int, "max_actions": int,
}


class DatasetError(ValueError):
    """A dataset folder or row is invalid; the message names the file and the row."""


@dataclass(frozen=True)
class NavCotRow:
    """One validated row (see the module docstring for the fields)."""

    id: str
    instruction: str
    history_images: tuple[str, ...]
    action_space: tuple[str, ...]
    target: str
    episode_id: str
    scene: str
    robot: str
    step: int
    pose: Pose2D
    goal: tuple[float, float]
    reference_path: NDArray[np.float64]
    expert_path: NDArray[np.float64]
    history_size: int
    max_actions: int

    def prompt(self) -> NavPrompt:
        """The node's prompt builder with this row's settings (as ``make_reasoner`` builds it)."""
        return NavPrompt(action_space=self.action_space, max_history=self.history_size,
                         max_actions_per_reply=self.max_actions)

    def to_json(self) -> dict[str, Any]:
        """The JSON record (the inverse of :func:`row_from_json`)."""
        return {
            "id": self.id, "instruction": self.instruction, "history_images": list(self.history_images),
            "action_space": list(self.action_space), "target": self.target, "episode_id": self.episode_id,
            "scene": self.scene, "robot": self.robot, "step": self.step,
            "pose": {"x": self.pose.x, "y": self.pose.y, "yaw": self.pose.yaw, "z": self.pose.z},
            "goal": list(self.goal), "reference_path": np.round(self.reference_path, 4).tolist(),
            "expert_path": np.round(self.expert_path, 4).tolist(), "history_size": self.history_size,
            "max_actions": self.max_actions,
        }


def _points(value: Any, what: str) -> NDArray[np.float64]:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"'{what}' must be a list of [x, y] points") from None
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] < 2 or not np.all(np.isfinite(arr)):
        raise ValueError(f"'{what}' must be a non-empty list of finite [x, y] points, got shape {arr.shape}")
    return arr[:, :2]


def row_from_json(rec: Any) -> NavCotRow:
    """Validate one decoded JSON record; ``ValueError`` names the bad field."""
    if not isinstance(rec, dict):
        raise ValueError(f"a row must be a JSON object, got {type(rec).__name__}")
    for name, kind in REQUIRED_FIELDS.items():
        if name not in rec:
            raise ValueError(f"missing field '{name}'")
        if not isinstance(rec[name], kind) or (kind is int and isinstance(rec[name], bool)):
            raise ValueError(f"field '{name}' must be {getattr(kind, '__name__', kind)}, "
                             f"got {type(rec[name]).__name__}")
    images, space = rec["history_images"], rec["action_space"]
    if not images or not all(isinstance(p, str) and p for p in images):
        raise ValueError("'history_images' must list at least the current view's image path")
    if not space or not all(isinstance(a, str) and a for a in space):
        raise ValueError("'action_space' must list the action options as strings")
    if not rec["instruction"].strip() or not rec["target"].strip():
        raise ValueError("'instruction' and 'target' must be non-empty")
    if len(images) > rec["history_size"] + 1:
        raise ValueError(f"'history_images' has {len(images)} images, more than history_size + 1")
    if rec["max_actions"] < 1:
        raise ValueError("'max_actions' must be >= 1")
    pose = rec["pose"]
    try:
        p = Pose2D(float(pose["x"]), float(pose["y"]), float(pose["yaw"]), float(pose.get("z", 0.0)))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"'pose' must be {{x, y, yaw[, z]}} finite numbers: {exc}") from None
    goal = rec["goal"]
    if len(goal) < 2 or not all(isinstance(v, int | float) and math.isfinite(v) for v in goal[:2]):
        raise ValueError("'goal' must be [x, y] finite numbers")
    return NavCotRow(
        id=rec["id"], instruction=rec["instruction"], history_images=tuple(images), action_space=tuple(space),
        target=rec["target"], episode_id=rec["episode_id"], scene=rec["scene"], robot=rec["robot"],
        step=rec["step"], pose=p, goal=(float(goal[0]), float(goal[1])),
        reference_path=_points(rec["reference_path"], "reference_path"),
        expert_path=_points(rec["expert_path"], "expert_path"), history_size=rec["history_size"],
        max_actions=rec["max_actions"],
    )


def iter_rows(path: Path, *, check_images: bool = True) -> Iterator[NavCotRow]:
    """Rows of one jsonl file; a malformed row or missing image raises naming the file and line."""
    path = Path(path)
    try:
        f = path.open(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot open: {exc}") from None
    with f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = row_from_json(json.loads(line))
            except (ValueError, RecursionError) as exc:  # json.JSONDecodeError is a ValueError
                raise DatasetError(f"{path}: row {lineno}: {exc}") from None
            if check_images:
                for rel in row.history_images:
                    if not (path.parent / rel).is_file():
                        raise DatasetError(f"{path}: row {lineno}: image '{rel}' does not exist")
            yield row


def split_file(root: Path, split: str) -> Path:
    """``root/<split>.jsonl``."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split '{split}'; one of {', '.join(SPLITS)}")
    return Path(root) / f"{split}.jsonl"


def hf_card_header(splits: Sequence[str]) -> list[str]:
    """The dataset card's YAML front matter: one ``{split}.jsonl`` per split, so ``datasets.load_dataset(DIR)``
    reads a navigation folder and a scene folder (:mod:`nav_r1.scene.data`) alike."""
    header = ["---", "configs:", "- config_name: default", "  data_files:"]
    for s in splits:
        header += [f"  - split: {s}", f"    path: {s}.jsonl"]
    return [*header, "---"]


def load_split(root: Path, split: str, *, check_images: bool = True) -> list[NavCotRow]:
    """Every row of one split of a dataset folder (validated)."""
    root = Path(root)
    if not (root / "README.md").is_file():
        raise DatasetError(f"{root}: not a complete dataset folder (no README.md dataset card)")
    path = split_file(root, split)
    if not path.is_file():
        raise DatasetError(f"{path}: split file missing")
    return list(iter_rows(path, check_images=check_images))


def load_image(root: Path, rel: str, *, blank: bool = False) -> NDArray[np.uint8]:
    """An (H, W, 3) uint8 image of a row; ``blank`` gives zeros of the same size (the blind control)."""
    path = Path(root) / rel
    try:
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except OSError as exc:
        raise DatasetError(f"{path}: unreadable image: {exc}") from None
    return np.zeros_like(rgb) if blank else rgb


def row_observation(row: NavCotRow, root: Path, *, blank: bool = False) -> Observation:
    """The observation the node held at this step: current frame, history frames and pose."""
    frames = [Frame(load_image(root, rel, blank=blank)) for rel in row.history_images]
    return Observation(row.instruction, frames[-1], tuple(frames[:-1]), row.pose)


def row_prompt(row: NavCotRow, root: Path, *, blank: bool = False) -> list[ChatMessage]:
    """The chat the reasoning node would send for this row (the node's own prompt builder)."""
    return row.prompt().build(row_observation(row, root, blank=blank))


def to_conversation(messages: Sequence[ChatMessage]) -> tuple[list[dict[str, Any]], list[NDArray[np.uint8]]]:
    """Hugging Face chat form and the images in order, exactly as the transformers backend builds them
    (:func:`r1_core.backends.transformers_vlm.hf_chat`), so training sees the tokens inference sees."""
    return hf_chat(messages)
