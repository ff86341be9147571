"""A CLIP :class:`~nav_r1.scene.views.ViewScorer`: question-to-view relevance for view selection (3D-R1).

:class:`ClipViewScorer` loads a ``transformers`` ``CLIPModel`` and ``CLIPProcessor`` from a local
directory (never the Hub; e.g. ``openai/clip-vit-base-patch32`` saved with ``save_pretrained``),
embeds the question with the text tower and each key view's colour image with the vision tower, and
turns the cosine similarities into relevance with CLIP's own text-to-image softmax (see
:meth:`ClipViewScorer.score`). Image embeddings are cached per key view, so a question embeds only
the views it has not seen. :func:`make_view_scorer` builds one from a spec string (``clip:DIR``).

torch and transformers are imported when a scorer is built, not with this module.

Thread ownership: the scorer's model and cache are guarded by one lock; the scene service calls
:meth:`ClipViewScorer.score` from its worker thread.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nav_r1.scene.memory import KeyView
from nav_r1.scene.views import ViewScorer
from r1_core.params import ParamError

#: The spec forms :func:`make_view_scorer` accepts.
VIEW_SCORER_SPECS = ("'' (none: coverage only)", "clip:DIR", "clip:DIR#DEVICE (e.g. clip:/models/clip#cuda)")

# (view_id, stamp, id(rgb)): a reused view id (another memory, a cleared one) has another image
# array; the weak reference stored with the entry proves the array is the one embedded.
_CacheKey = tuple[int, float, int]


def _check_clip_dir(path: Path) -> None:
    """A ValueError naming ``path`` unless it is a directory holding a CLIP ``config.json``."""
    if not path.is_dir():
        raise ValueError(f"CLIP view scorer: model directory '{path}' does not exist")
    config = path / "config.json"
    if not config.is_file():
        raise ValueError(f"CLIP view scorer: '{path}' is not a model directory (no config.json)")
    try:
        model_type = json.loads(config.read_text()).get("model_type")
    except (OSError, ValueError, AttributeError) as exc:
        raise ValueError(f"CLIP view scorer: cannot read '{config}': {exc}") from exc
    if model_type != "clip":
        raise ValueError(f"CLIP view scorer: '{path}' is not a CLIP model (config.json model_type is "
                         f"{model_type!r}, expected 'clip')")


class ClipViewScorer:
    """Relevance of key views to a question from a local CLIP model (see the module docstring)."""

    def __init__(self, model_dir: str | Path, device: str = "cpu", batch_size: int = 16,
                 max_cached_views: int = 1024) -> None:
        import torch
        from transformers import CLIPModel, CLIPProcessor

        if batch_size < 1 or max_cached_views < 1:
            raise ValueError(f"batch_size and max_cached_views must be at least 1, got {batch_size}, "
                             f"{max_cached_views}")
        self.model_dir = Path(model_dir)
        _check_clip_dir(self.model_dir)
        try:
            self.device = torch.device(device)
        except RuntimeError as exc:
            raise ValueError(f"CLIP view scorer: bad device {device!r}: {exc}") from exc
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"CLIP view scorer: device {device!r} requested but torch sees no CUDA device")
        try:
            model: Any = CLIPModel.from_pretrained(self.model_dir, local_files_only=True)
            self._processor: Any = CLIPProcessor.from_pretrained(self.model_dir, local_files_only=True)
        except (OSError, ValueError, KeyError, TypeError, ImportError) as exc:
            raise ValueError(f"CLIP view scorer: cannot load CLIP from '{self.model_dir}': {exc}") from exc
        self._model: Any = model.to(self.device).eval()
        self._max_text_tokens = int(model.config.text_config.max_position_embeddings)
        self.logit_scale = float(model.logit_scale.detach().exp().item())
        self.batch_size = batch_size
        self.max_cached_views = max_cached_views
        self._cache: OrderedDict[_CacheKey, tuple[weakref.ref[NDArray[np.uint8]], NDArray[np.float32]]] = \
            OrderedDict()
        self._lock = threading.Lock()
        #: Images run through the vision tower so far (a cached view is not counted again).
        self.images_embedded = 0
        #: Questions run through the text tower so far.
        self.texts_embedded = 0

    @property
    def name(self) -> str:
        """``clip:DIR``, the spec that builds this scorer."""
        return f"clip:{self.model_dir}"

    @staticmethod
    def _features(out: Any) -> Any:
        # transformers 5 returns a BaseModelOutputWithPooling whose pooler_output is the projected
        # embedding; 4.x returned that tensor itself.
        return out if hasattr(out, "ndim") else out.pooler_output

    def _normalised(self, features: Any) -> NDArray[np.float32]:
        emb = np.asarray(features.detach().float().cpu().numpy(), dtype=np.float32)
        return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)

    def _embed_text(self, question: str) -> NDArray[np.float32]:
        import torch

        inputs = self._processor(text=[question], return_tensors="pt", padding=True, truncation=True,
                                 max_length=self._max_text_tokens)
        with torch.no_grad():
            out = self._model.get_text_features(input_ids=inputs["input_ids"].to(self.device),
                                                attention_mask=inputs["attention_mask"].to(self.device))
        self.texts_embedded += 1
        return self._normalised(self._features(out))[0]

    def _embed_images(self, images: Sequence[NDArray[np.uint8]]) -> NDArray[np.float32]:
        import torch
        from PIL import Image

        chunks = []
        for start in range(0, len(images), self.batch_size):
            batch = [Image.fromarray(np.ascontiguousarray(rgb)) for rgb in images[start:start + self.batch_size]]
            pixels = self._processor(images=batch, return_tensors="pt")["pixel_values"].to(self.device)
            with torch.no_grad():
                chunks.append(self._normalised(self._features(self._model.get_image_features(pixel_values=pixels))))
            self.images_embedded += len(batch)
        return np.concatenate(chunks, axis=0)

    def _view_embeddings(self, views: Sequence[KeyView]) -> NDArray[np.float32]:
        """(N, D) unit image embeddings of ``views``, embedding only those not cached."""
        keys: list[_CacheKey] = [(int(v.view_id), float(v.stamp), id(v.rgb)) for v in views]
        embeddings: dict[_CacheKey, NDArray[np.float32]] = {}
        todo: dict[_CacheKey, NDArray[np.uint8]] = {}
        for key, view in zip(keys, views, strict=True):
            entry = self._cache.get(key)
            if entry is not None and entry[0]() is view.rgb:
                self._cache.move_to_end(key)
                embeddings[key] = entry[1]
            else:
                todo.setdefault(key, view.rgb)
        if todo:
            new = self._embed_images(list(todo.values()))
            for (key, rgb), emb in zip(todo.items(), new, strict=True):
                self._cache[key] = (weakref.ref(rgb), emb)
                self._cache.move_to_end(key)
                embeddings[key] = emb
            while len(self._cache) > self.max_cached_views:
                self._cache.popitem(last=False)
        return np.stack([embeddings[key] for key in keys])

    def similarities(self, question: str, views: Sequence[KeyView]) -> NDArray[np.float64]:
        """Cosine similarity of the question's and each view's CLIP embedding, in view order."""
        if not question.strip():
            raise ValueError("empty question: nothing to score the views against")
        if not views:
            return np.zeros(0)
        with self._lock:
            text = self._embed_text(question)
            images = self._view_embeddings(views)
        return np.asarray(images.astype(np.float64) @ text.astype(np.float64), dtype=np.float64)

    def score(self, question: str, views: Sequence[KeyView]) -> Sequence[float]:
        """Relevance in [0, 1]: ``softmax(logit_scale * cos)`` over the candidate views (sums to 1).

        This is the text-to-image distribution CLIP is trained to output (its contrastive loss is a
        softmax over images at the learned ``logit_scale``, 100 for OpenAI's checkpoints), so it is
        calibrated: a view that matches the question clearly gets most of the mass, and when none
        stands out the scores are near uniform and coverage decides. Rescaled cosines,
        ``(cos + 1) / 2``, would barely move: CLIP's image-text cosines cluster in roughly
        0.15-0.35, a spread of a few hundredths. A view's score depends on the other candidates.
        Deterministic: no sampling, a fixed model in eval mode, float64 softmax.
        """
        cos = self.similarities(question, views)
        if cos.size == 0:
            return []
        logits = self.logit_scale * cos
        weights = np.exp(logits - logits.max())
        return [float(w) for w in weights / weights.sum()]


def make_view_scorer(spec: str) -> ViewScorer | None:
    """A view scorer from ``spec``: ``""`` -> None (coverage only), ``clip:DIR[#DEVICE]`` -> :class:`ClipViewScorer`."""
    spec = spec.strip()
    if not spec:
        return None
    kind, _, rest = spec.partition(":")
    path, _, device = rest.partition("#")
    if kind != "clip" or not path:
        raise ParamError(f"view scorer spec {spec!r} is not one of: {', '.join(VIEW_SCORER_SPECS)}")
    return ClipViewScorer(path, device=device or "cpu")


__all__ = ["VIEW_SCORER_SPECS", "ClipViewScorer", "make_view_scorer"]
