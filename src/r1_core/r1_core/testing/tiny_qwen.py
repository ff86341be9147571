"""Build a tiny random-weight Qwen2.5-VL checkpoint, tokenizer and processor config, offline.

The result loads through the same ``from_pretrained`` calls users make on a real checkpoint
(``Qwen2_5_VLForConditionalGeneration``, ``AutoTokenizer``, ``AutoImageProcessor``), so tests
exercise the real loading and generation path in about a second.  Its replies are random text.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from r1_core.backends.transformers_vlm import QWEN_CHATML_TEMPLATE

#: Qwen2.5-VL's special tokens, in the order the tiny vocabulary assigns them ids.
QWEN_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# A real checkpoint ships its own template, which the backends use unchanged.
CHAT_TEMPLATE = QWEN_CHATML_TEMPLATE

_CORPUS = (
    "You are a navigation robot. Follow the instruction. Images 1-5 are history views, image 6 is "
    "the current view. Options: move forward 25cm, turn left 30°, turn right 30°, stop. "
    "<think>The door is on the left, so I turn.</think><action>turn left 30°</action> "
    "ascend descend metres degrees 0123456789 the a kitchen sofa table chair bedroom hallway"
)


def _train_tokenizer(vocab_size: int, corpus: Sequence[str] = ()) -> object:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(QWEN_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([_CORPUS] * 4 + list(corpus), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(QWEN_SPECIAL_TOKENS[1:]),
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _tiny_config(config_cls: Any, ids: dict[str, int], vocab: int, hidden_size: int, num_layers: int) -> Any:
    """The Qwen2.5-VL config of the tiny model (text ``hidden_size`` x ``num_layers``, vision 32 x 2)."""
    if hidden_size % 8:
        raise ValueError(f"hidden_size must be a multiple of 8, got {hidden_size}")
    head_dim = hidden_size // 4
    half = head_dim // 2
    # Temporal/height/width rotary sections: they must sum to head_dim / 2 ([2, 3, 3] for 64).
    mrope_section = [half // 4, (half - half // 4) // 2, half - half // 4 - (half - half // 4) // 2]
    if sum(mrope_section) != head_dim // 2:
        raise ValueError(f"mrope_section {mrope_section} must sum to {head_dim // 2}")
    return config_cls(
        text_config={
            "vocab_size": vocab,
            "hidden_size": hidden_size,
            "intermediate_size": 2 * hidden_size,
            "num_hidden_layers": num_layers,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 4096,
            "rope_scaling": {"type": "mrope", "mrope_section": mrope_section},
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": hidden_size,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 112,
            "fullatt_block_indexes": [1],
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )


def build_tiny_qwen(
    path: Path, *, seed: int = 0, vocab_size: int = 400, max_pixels: int = 28 * 28 * 16,
    corpus: Sequence[str] = (), hidden_size: int = 64, num_layers: int = 2,
) -> Path:
    """Write a tiny Qwen2.5-VL (text hidden 64 x 2 layers, vision 32 x 2) and its tokenizer to ``path``.

    ``corpus`` adds texts the byte-level BPE tokenizer is trained on (a recipe benchmark trains it on
    its data, so replies take tens of tokens, not hundreds); ``hidden_size`` and ``num_layers`` size
    the text model (4 attention heads).
    """
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer(vocab_size, corpus)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL_TOKENS}  # type: ignore[attr-defined]
    config = _tiny_config(Qwen2_5_VLConfig, ids, len(tokenizer), hidden_size, num_layers)  # type: ignore[arg-type]
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)  # type: ignore[attr-defined]
    # Few image tokens keep the tiny model fast; real checkpoints allow up to 1280 * 28 * 28 pixels.
    Qwen2VLImageProcessorPil(min_pixels=28 * 28 * 4, max_pixels=max_pixels).save_pretrained(path)
    return path


def tiny_qwen_dir(root: Path) -> Path:
    """``root / "tiny_qwen"``, built on first use and reused after (one build per test session)."""
    path = Path(root) / "tiny_qwen"
    if not (path / "model.safetensors").exists() or not (path / "preprocessor_config.json").exists():
        build_tiny_qwen(path)
    return path
