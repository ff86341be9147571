"""Dataset rows -> TRL examples: the node's prompt as a conversation, its images, the reply.

Every example's prompt is :func:`nav_r1.data.rows.row_prompt` -- the reasoning node's own
:class:`~nav_r1.prompt.NavPrompt` -- in Hugging Face chat form, with the images in order.  SFT
examples add ``completion`` (the target as the assistant turn; TRL computes the loss on it only);
GRPO examples keep ``target``, ``pose``, ``expert_path`` and ``goal`` for the reward functions.
A ``nav-r1 scene-data`` folder (3D-R1's scene tasks) is recognised by its card and built by
:mod:`nav_r1.train.scene` instead (:func:`training_dataset` picks).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from nav_r1.data.rows import NavCotRow, load_split, row_prompt, to_conversation
from nav_r1.train.common import TrainError, TrainOptions
from nav_r1.train.scene import SceneDataError, is_scene_dataset, scene_examples


def _example(row: NavCotRow, root: Path, blank: bool, with_completion: bool) -> dict[str, Any]:
    chat, images = to_conversation(row_prompt(row, root, blank=blank))
    # Arrow needs one content type per column: text-only turns as one text part (same rendering).
    chat = [m if isinstance(m["content"], list) else {**m, "content": [{"type": "text", "text": m["content"]}]}
            for m in chat]
    ex: dict[str, Any] = {
        "id": row.id,
        "prompt": chat,
        "images": [Image.fromarray(im) for im in images],
        "target": row.target,
        "pose": [row.pose.x, row.pose.y, row.pose.yaw],
        "expert_path": row.expert_path.tolist(),
        "goal": list(row.goal),
    }
    if with_completion:
        ex["completion"] = [{"role": "assistant", "content": [{"type": "text", "text": row.target}]}]
    return ex


def load_rows(root: Path, split: str, max_rows: int = 0) -> list[NavCotRow]:
    """The split's validated rows (the first ``max_rows`` when > 0)."""
    rows = load_split(root, split)
    return rows[:max_rows] if max_rows > 0 else rows


def build_examples(rows: Sequence[NavCotRow], root: Path, *, blank: bool = False,
                   with_completion: bool = True) -> Any:
    """A ``datasets.Dataset`` of prompt(-completion) examples with their images."""
    from datasets import Dataset

    def gen() -> Iterator[dict[str, Any]]:
        for row in rows:
            yield _example(row, root, blank, with_completion)

    return Dataset.from_list(list(gen()))


def training_dataset(opts: TrainOptions, *, with_completion: bool) -> tuple[Any, int, str]:
    """The train split as TRL examples, its row count and its kind (``navigation`` or ``scene``)."""
    if is_scene_dataset(opts.data):
        try:
            dataset, n = scene_examples(opts.data, "train", max_rows=opts.max_rows, blank=opts.blank_images,
                                        with_completion=with_completion)
        except SceneDataError as exc:
            raise TrainError(f"scene dataset '{opts.data}': {exc}") from None
        kind = "scene"
    else:
        rows = load_rows(opts.data, "train", opts.max_rows)
        n, kind = len(rows), "navigation"
        dataset = build_examples(rows, opts.data, blank=opts.blank_images, with_completion=with_completion) \
            if rows else None
    if n == 0:
        raise TrainError(f"dataset '{opts.data}': the train split has no rows")
    return dataset, n, kind
