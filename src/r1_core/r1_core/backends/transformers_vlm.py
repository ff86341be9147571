"""Local Qwen2.5-VL inference with Hugging Face transformers (Nav-R1 and VLA-R1 are fine-tunes of it).

The model is loaded with ``trust_remote_code=False`` from safetensors only, so a checkpoint cannot
run code on the robot.  Images go through the checkpoint's own image processor
(``AutoImageProcessor``: the torchvision-backed one where torchvision is installed, the PIL one
otherwise) and the image-pad tokens are expanded here (``grid_thw.prod() // merge_size**2``),
exactly as ``Qwen2_5_VLProcessor`` does, because that processor also needs torchvision for
its video half.

Threading: :meth:`TransformersVLM.generate` may be called from any thread; a lock serialises
inference, and the model, tokenizer and image processor are read-only after construction.
Tested here on CPU with a tiny random checkpoint; the CUDA/bf16 path is the same code with
``device="cuda"`` and has not been run on this machine.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from r1_core.backends.images import fit_image
from r1_core.backends.openai_format import chat_dicts
from r1_core.params import param, validate_params
from r1_core.reasoner import ChatMessage, Response

LOG = logging.getLogger(__name__)

_DTYPES = ("auto", "float32", "bfloat16", "float16")


#: Qwen's ChatML with image placeholders: used only when a checkpoint ships no chat template at all.
QWEN_CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def find_chat_template(tokenizer: Any, model_dir: str) -> tuple[str, str]:
    """The chat template to use and where it came from: tokenizer, processor files, or ChatML."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, str) and template:
        return template, "tokenizer"
    # Some Qwen2.5-VL exports keep the template only in the processor's files.
    root = Path(model_dir)
    jinja, js = root / "chat_template.jinja", root / "chat_template.json"
    try:
        if jinja.is_file():
            return jinja.read_text(), str(jinja)
        if js.is_file():
            loaded = json.loads(js.read_text()).get("chat_template")
            if isinstance(loaded, str) and loaded:
                return loaded, str(js)
    except (OSError, ValueError, AttributeError) as exc:
        LOG.warning("ignoring unreadable chat template in %s: %s", root, exc)
    return QWEN_CHATML_TEMPLATE, "built-in Qwen ChatML"


class BackendLoadError(RuntimeError):
    """A model, tokenizer or image processor could not be loaded (bad path, missing files, ...)."""


def hf_chat(messages: Sequence[ChatMessage], prepare: Callable[[np.ndarray], np.ndarray] = lambda im: im
            ) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    """Hugging Face chat form (``{"type": "image"}`` placeholders; text-only turns as plain strings)
    and the images in order, each through ``prepare``: what inference and training both tokenise."""
    images: list[np.ndarray] = []

    def placeholder(image: np.ndarray) -> dict[str, Any]:
        images.append(prepare(image))
        return {"type": "image"}

    return chat_dicts(messages, placeholder), images


@dataclass(frozen=True)
class TransformersConfig:
    """How to load and run a Qwen2.5-VL-family model locally."""

    # A local directory (from save_pretrained) or a Hub id; Hub ids need a network or a warm cache.
    model: str = param("", "Model directory or Hub id of a Qwen2.5-VL checkpoint")
    device: str = param("auto", "Where to run: auto picks cuda when available", choices=("auto", "cpu", "cuda"))
    # auto: bf16 on CUDA (as Nav-R1 and VLA-R1 are trained), fp32 on CPU (CPU bf16 is slow).
    dtype: str = param("auto", "Weights dtype", choices=_DTYPES)
    max_new_tokens: int = param(512, "Most tokens generated per reply", min=1, max=8192)
    # 0 means greedy decoding, which makes replies repeatable for a given observation.
    temperature: float = param(0.0, "Sampling temperature; 0 decodes greedily", min=0.0, max=5.0)
    top_p: float = param(1.0, "Nucleus sampling mass when temperature > 0", min=0.01, max=1.0)
    # Bounds the vision tokens per frame: six 640-px frames are ~2.4k tokens for Qwen2.5-VL.
    max_image_side: int = param(640, "Frames are downscaled so their longer side is at most this [px]", min=28)
    seed: int = param(0, "Torch seed set at load time (sampling only)", min=0)
    local_files_only: bool = param(False, "Never contact the Hub; load from the path or the local cache")
    attn_implementation: str = param("sdpa", "Attention kernel", choices=("sdpa", "eager", "flash_attention_2"))

    def __post_init__(self) -> None:
        validate_params(self)


@dataclass(frozen=True)
class Generation:
    """A reply plus token counts (for the server's ``usage`` field)."""

    response: Response
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # True when generation stopped at the token limit rather than at an end-of-turn token.
    truncated: bool = False


def resolve_device_dtype(device: str, dtype: str) -> tuple[str, Any]:
    """The concrete torch device and dtype for the config's ``auto`` choices."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise BackendLoadError("device 'cuda' requested but torch sees no CUDA device")
    if dtype == "auto":
        return device, torch.bfloat16 if device == "cuda" else torch.float32
    return device, getattr(torch, dtype)


class TransformersVLM:
    """A :class:`~r1_core.reasoner.VLMBackend` running a Qwen2.5-VL model in this process."""

    def __init__(self, config: TransformersConfig) -> None:
        if not config.model:
            raise BackendLoadError("TransformersConfig.model is empty: give a model directory or Hub id")
        self.config = config
        self._lock = threading.Lock()
        t0 = time.perf_counter()
        self.device, self.dtype = resolve_device_dtype(config.device, config.dtype)
        self._model, self._tokenizer, self._image_processor = self._load()
        self.load_seconds = time.perf_counter() - t0
        n_params = sum(p.numel() for p in self._model.parameters())
        LOG.info(
            "loaded %s: %.1fM parameters on %s as %s in %.1f s",
            config.model, n_params / 1e6, self.device, str(self.dtype).removeprefix("torch."), self.load_seconds,
        )

    def _load(self) -> tuple[Any, Any, Any]:
        import torch
        from transformers import AutoImageProcessor, AutoTokenizer, Qwen2_5_VLForConditionalGeneration

        torch.manual_seed(self.config.seed)
        local = self.config.local_files_only
        try:
            model: Any = Qwen2_5_VLForConditionalGeneration.from_pretrained(
                self.config.model,
                dtype=self.dtype,
                use_safetensors=True,
                attn_implementation=self.config.attn_implementation,
                trust_remote_code=False,
                local_files_only=local,
            )
            tokenizer = AutoTokenizer.from_pretrained(
                self.config.model, trust_remote_code=False, local_files_only=local
            )
            image_processor = AutoImageProcessor.from_pretrained(
                self.config.model, trust_remote_code=False, local_files_only=local
            )
        except (OSError, ValueError, ImportError, KeyError) as exc:
            raise BackendLoadError(f"cannot load Qwen2.5-VL from '{self.config.model}': {exc}") from exc
        template, source = find_chat_template(tokenizer, self.config.model)
        tokenizer.chat_template = template
        LOG.info("chat template from %s", source)
        model = model.to(self.device)
        model.eval()
        return model, tokenizer, image_processor

    @property
    def name(self) -> str:
        """The model path or Hub id."""
        return self.config.model

    @property
    def parameter_count(self) -> int:
        """Number of model parameters."""
        return int(sum(p.numel() for p in self._model.parameters()))

    def generate(self, messages: Sequence[ChatMessage]) -> Response:
        """Generate a reply; out-of-memory and other runtime failures come back as failed responses."""
        return self.generate_detailed(messages).response

    def generate_detailed(self, messages: Sequence[ChatMessage], max_new_tokens: int | None = None) -> Generation:
        """Like :meth:`generate`, with token counts; ``max_new_tokens`` can only lower the config's."""
        import torch

        limit = self.config.max_new_tokens
        if max_new_tokens is not None:
            limit = min(limit, max_new_tokens)
        t0 = time.perf_counter()
        with self._lock:
            waited = time.perf_counter() - t0
            try:
                return self._generate_locked(messages, t0, waited, max(1, limit))
            except torch.cuda.OutOfMemoryError as exc:
                torch.cuda.empty_cache()
                msg = f"out of GPU memory: {str(exc).splitlines()[0]}; lower max_image_side or history length"
                return Generation(Response.failure(self.name, msg, {"total": time.perf_counter() - t0}))
            except (RuntimeError, ValueError, TypeError, IndexError) as exc:
                LOG.exception("generation failed")
                msg = f"generation failed: {type(exc).__name__}: {exc}"
                return Generation(Response.failure(self.name, msg, {"total": time.perf_counter() - t0}))

    def _generate_locked(self, messages: Sequence[ChatMessage], t0: float, waited: float, limit: int) -> Generation:
        import torch

        inputs = self._encode(messages)
        t1 = time.perf_counter()
        prompt_len = int(inputs["input_ids"].shape[1])
        cfg = self.config
        sampling: dict[str, Any] = {"do_sample": False}
        if cfg.temperature > 0.0:
            sampling = {"do_sample": True, "temperature": cfg.temperature, "top_p": cfg.top_p}
        with torch.inference_mode():
            out = self._model.generate(
                **inputs,
                max_new_tokens=limit,
                pad_token_id=self._tokenizer.pad_token_id,
                **sampling,
            )
        if self.device == "cuda":
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        new_tokens = out[0, prompt_len:]
        text = self._tokenizer.decode(new_tokens, skip_special_tokens=True)
        t3 = time.perf_counter()
        timings = {"queue": waited, "preprocess": t1 - t0 - waited, "generate": t2 - t1, "decode": t3 - t2,
                   "total": t3 - t0}
        n_new = int(new_tokens.numel())
        eos = self._tokenizer.convert_tokens_to_ids(self._tokenizer.eos_token) if self._tokenizer.eos_token else None
        truncated = n_new >= limit and (eos is None or int(new_tokens[-1]) != eos)
        return Generation(Response(text=text, model=self.name, timings=timings), prompt_len, n_new, truncated)

    def _encode(self, messages: Sequence[ChatMessage]) -> dict[str, Any]:
        """Chat template, image features and expanded image-pad tokens, on the model's device."""
        chat, images = hf_chat(messages, lambda im: fit_image(im, self.config.max_image_side))
        text: str = self._tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        inputs: dict[str, Any] = {}
        if images:
            vision = self._image_processor(images=images, return_tensors="pt")
            text = self._expand_image_pads(text, vision["image_grid_thw"])
            inputs["pixel_values"] = vision["pixel_values"].to(self.device, self.dtype)
            inputs["image_grid_thw"] = vision["image_grid_thw"].to(self.device)
        enc = self._tokenizer(text, return_tensors="pt", add_special_tokens=False)
        inputs["input_ids"] = enc["input_ids"].to(self.device)
        inputs["attention_mask"] = enc["attention_mask"].to(self.device)
        return inputs

    def _expand_image_pads(self, text: str, grid_thw: Any) -> str:
        """Replace each image's single pad token with one per merged vision patch."""
        pad = "<|image_pad|>"
        merge = int(getattr(self._image_processor, "merge_size", 2))
        pieces = text.split(pad)
        if len(pieces) - 1 != len(grid_thw):
            raise ValueError(f"chat template produced {len(pieces) - 1} image slots for {len(grid_thw)} images")
        out = [pieces[0]]
        for grid, rest in zip(grid_thw, pieces[1:], strict=True):
            out.append(pad * (int(grid.prod()) // merge**2))
            out.append(rest)
        return "".join(out)
