"""Recipe throughput on one GPU: SFT step time, GRPO step time at group 8, generation tokens/s.

Random weights with Qwen2.5-VL-3B's architecture (the published config: text 2048 x 36 layers,
16 heads / 2 KV heads, vision 1280 x 32 blocks), so it needs no download; the tokenizer is the
test suite's small trained one (ids stay far below the 151,936-row embedding).  The same code
paths as the commands: ``nav_r1.train.sft.run_sft`` and ``nav_r1.train.grpo.run_grpo`` (LoRA rank
16 on the last 8 blocks, as Nav-R1), and the reasoning node's transformers backend for generation,
against bare ``model.generate`` on the same inputs as the baseline.

Run on a GPU machine (under 8 minutes on one H100/H200; needs MuJoCo EGL for the data unless
``--data`` names an existing ``nav-r1 data`` folder):
    python bench/bench_recipe_gpu.py --out /tmp/bench_gpu
``--tiny`` runs the same script on CPU with the tiny test model (the smoke check in the tests).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

#: Qwen/Qwen2.5-VL-3B-Instruct's config.json (architecture fields).
QWEN25_VL_3B: dict[str, Any] = {
    "text_config": {
        "vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 11008, "num_hidden_layers": 36,
        "num_attention_heads": 16, "num_key_value_heads": 2, "max_position_embeddings": 128000,
        "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": True,
        "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
    },
    "vision_config": {
        "depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16, "out_hidden_size": 2048,
        "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 112,
        "fullatt_block_indexes": [7, 15, 23, 31], "hidden_act": "silu",
    },
    "tie_word_embeddings": True,
}


def build_3b_random(out: Path, device: str) -> Path:
    """A random-weight Qwen2.5-VL-3B checkpoint (bf16) with the tiny tokenizer and a PIL image processor."""
    import torch
    from transformers import AutoTokenizer, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from r1_core.testing.tiny_qwen import tiny_qwen_dir

    tiny = tiny_qwen_dir(out.parent)
    tok = AutoTokenizer.from_pretrained(tiny)
    names = ("<|endoftext|>", "<|im_end|>", "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")
    ids: dict[str, int] = {t: tok.convert_tokens_to_ids(t) for t in names}  # type: ignore[misc]
    text = {**QWEN25_VL_3B["text_config"], "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"]}
    config = Qwen2_5_VLConfig(text_config=text, vision_config=QWEN25_VL_3B["vision_config"],
                              image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                              vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
                              tie_word_embeddings=True)
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=torch.bfloat16)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    Qwen2VLImageProcessorPil(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 256).save_pretrained(out)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return out


def step_seconds(run_dir: Path, key: str | None = None) -> float:
    """Median seconds per optimizer step from the run's log (TRL's ``step_time`` when logged)."""
    rows = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "loss" in r]
    if key and all(key in r for r in rows):
        vals = [r[key] for r in rows[1:]] or [r[key] for r in rows]  # the first step includes warm-up
        return float(statistics.median(vals))
    times = [b["time"] - a["time"] for a, b in itertools.pairwise(rows)]
    return float(statistics.median(times)) if times else float("nan")


def generation_rate(ckpt: Path, data: Path, device: str, new_tokens: int) -> tuple[float, float]:
    """Tokens/s through the node's transformers backend and through bare ``generate`` (the baseline)."""
    import torch

    from nav_r1.data.rows import load_split, row_prompt
    from r1_core.backends.transformers_vlm import TransformersConfig, TransformersVLM

    vlm = TransformersVLM(TransformersConfig(model=str(ckpt), device=device, max_new_tokens=new_tokens,
                                             local_files_only=True))
    row = load_split(data, "train")[5]
    messages = row_prompt(row, data)
    vlm.generate_detailed(messages)  # warm-up
    rates = []
    for _ in range(3):
        g = vlm.generate_detailed(messages)
        rates.append(g.completion_tokens / max(g.response.timings["generate"], 1e-9))
    inputs = vlm._encode(messages)  # the same tensors, to time bare generate
    model = vlm._model
    base = []
    for _ in range(3):
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
        if device == "cuda":
            torch.cuda.synchronize()
        base.append((out.shape[1] - inputs["input_ids"].shape[1]) / (time.perf_counter() - t0))
    return statistics.median(rates), statistics.median(base)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_recipe_gpu"))
    parser.add_argument("--data", type=Path, default=None, help="An existing 'nav-r1 data' folder")
    parser.add_argument("--tiny", action="store_true", help="Tiny model on CPU (smoke check)")
    parser.add_argument("--sft-steps", type=int, default=8)
    parser.add_argument("--grpo-steps", type=int, default=4)
    parser.add_argument("--group", type=int, default=8, help="GRPO group size")
    parser.add_argument("--gen-tokens", type=int, default=128, help="GRPO completion length / generation length")
    ns = parser.parse_args(argv)
    from nav_r1.data.engine import DataConfig, build_dataset
    from nav_r1.train.common import TrainOptions
    from nav_r1.train.grpo import GrpoOptions, run_grpo
    from nav_r1.train.sft import run_sft
    from r1_core.testing.tiny_qwen import tiny_qwen_dir

    device = "cpu" if ns.tiny else "cuda"
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        print("bench_recipe_gpu: no CUDA device here: skipped (--tiny runs the CPU smoke check)")
        return 0
    shutil.rmtree(ns.out, ignore_errors=True)
    ns.out.mkdir(parents=True)
    t_all = time.perf_counter()
    data = ns.data
    if data is None:
        data = ns.out / "data"
        size = 32 if ns.tiny else 320
        build_dataset(data, DataConfig(episodes=2 if ns.tiny else 8, episodes_per_scene=2, rooms=2, width=size,
                                       height=size * 3 // 4 if not ns.tiny else size, min_length_m=1.5,
                                       max_length_m=3.0, val_fraction=0.0, test_fraction=0.0), progress=False)
    t = time.perf_counter()
    model = tiny_qwen_dir(ns.out) if ns.tiny else build_3b_random(ns.out / "qwen25vl3b_random", device)
    build_s = time.perf_counter() - t

    def opts(name: str, base: Path, steps: int) -> TrainOptions:
        return TrainOptions(data=data, model=base, out=ns.out / name, run_dir=ns.out / f"{name}.run", max_steps=steps,
                            batch_size=4 if not ns.tiny else 2, learning_rate=1e-5, save_steps=10_000,
                            lora_rank=16, lora_last_blocks=8 if not ns.tiny else 1, device=device, bf16=not ns.tiny,
                            max_rows=64)

    t = time.perf_counter()
    sft = run_sft(opts("sft", model, ns.sft_steps))
    sft_total = time.perf_counter() - t
    t = time.perf_counter()
    run_grpo(opts("grpo", sft, ns.grpo_steps), GrpoOptions(num_generations=ns.group,
                                                           max_completion_length=ns.gen_tokens))
    grpo_total = time.perf_counter() - t
    rate, base_rate = generation_rate(sft, data, device, ns.gen_tokens)
    report = {
        "model": "tiny (CPU smoke)" if ns.tiny else "Qwen2.5-VL-3B config, random bf16 weights",
        "device": device, "build_s": round(build_s, 1),
        "sft_step_s": step_seconds(ns.out / "sft.run"), "sft_total_s": round(sft_total, 1),
        "grpo_step_s": step_seconds(ns.out / "grpo.run", "step_time"), "grpo_group": ns.group,
        "grpo_completion_tokens": ns.gen_tokens, "grpo_total_s": round(grpo_total, 1),
        "generate_tokens_per_s_backend": round(rate, 1), "generate_tokens_per_s_bare": round(base_rate, 1),
        "total_s": round(time.perf_counter() - t_all, 1),
    }
    print(f"SFT step {report['sft_step_s']:.3f} s (batch 4, LoRA r16 last 8 blocks); "
          f"GRPO step {report['grpo_step_s']:.3f} s (group {ns.group}, {ns.gen_tokens} tokens); "
          f"generation {rate:.1f} tokens/s through the node's backend vs {base_rate:.1f} bare generate "
          f"(ratio {rate / base_rate:.2f}); total {report['total_s']:.0f} s")
    (ns.out / "report.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
