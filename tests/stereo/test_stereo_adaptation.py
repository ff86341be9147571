"""Behaviour: self-supervised LoRA adaptation makes the learned model better on underwater pairs.

The base weights are a fixture written by the repo's own pre-training script (tiny architecture,
clean analytic 48x64 pairs, no underwater data ever seen)::

    python -m stereo_adapter.pretrain --tiny --size 48 64 --pairs 48 --steps 250 --batch 4 --no-sim \
        --out tests/stereo/data/tiny_base_48x64.safetensors

Seeded, the same pairs before and after; ground truth is used only to score, never to adapt.
"""

from __future__ import annotations

from pathlib import Path

import torch

from stereo_adapter.adapt import adapt_lora
from stereo_adapter.data import synth_dataset
from stereo_adapter.evaluate import evaluate_backend
from stereo_adapter.learned import LearnedBackend, adapter_state_dict, load_model
from stereo_adapter.underwater import underwater_dataset

BASE = Path(__file__).parent / "data" / "tiny_base_48x64.safetensors"
SIZE = (48, 64)


def test_pre_peft_weights_file_loads_with_peft_key_names():
    """The fixture predates PEFT (keys ``X.base.weight``); it loads into the PEFT-wrapped model."""
    from safetensors import safe_open

    with safe_open(str(BASE), framework="pt") as f:
        legacy = set(f.keys())
    assert any(".qkv.base.weight" in k for k in legacy)
    model = load_model(BASE)
    state = model.state_dict()
    assert "encoder.blocks.0.attn.qkv.base_layer.weight" in state
    with safe_open(str(BASE), framework="pt") as f:
        torch.testing.assert_close(state["encoder.blocks.0.attn.qkv.base_layer.weight"],
                                   f.get_tensor("encoder.blocks.0.attn.qkv.base.weight"))


def test_adaptation_improves_abs_rel_on_underwater_pairs():
    torch.manual_seed(0)
    model = load_model(BASE)
    test = underwater_dataset(synth_dataset(6, 2, SIZE), "coastal", seed=3)
    unlabelled = underwater_dataset(synth_dataset(8, 4, SIZE), "coastal", seed=5)
    before = evaluate_backend(LearnedBackend(model), test)
    history = adapt_lora(model, [(s.left, s.right) for s in unlabelled], steps=ADAPT_STEPS, batch=4,
                         lr=ADAPT_LR, seed=0)
    after = evaluate_backend(LearnedBackend(model), test)
    print(f"underwater before: {before}\nunderwater after: {after}")
    assert after["abs_rel"] < 0.98 * before["abs_rel"], (before, after)
    assert after["rmse"] < before["rmse"], (before, after)
    first = sum(h["photometric"] for h in history[:3]) / 3
    last = sum(h["photometric"] for h in history[-3:]) / 3
    assert last < first  # the objective itself went down
    assert adapter_state_dict(model)  # only adapters were trained (checked in test_stereo_model)


ADAPT_STEPS = 25
ADAPT_LR = 2e-3
