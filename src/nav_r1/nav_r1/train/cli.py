"""``nav-r1 train sft|grpo``: fine-tune a local Qwen2.5-VL on a ``nav-r1 data`` or ``scene-data`` folder.

    nav-r1 train sft  --data DIR --model PATH  --out CKPT  [--lora-rank 16 --lora-last-blocks 8]
    nav-r1 train grpo --data DIR --model CKPT  --out CKPT2 [--num-generations 8 --beta 0.02]

Multi-GPU / multi-node: ``accelerate launch --config_file config/accelerate/zero2.yaml -m nav_r1.cli
train sft ...`` (see docs/training.md).  Exit codes: 0 done, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from r1_core.params import ParamError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True,
                   help="Dataset folder made by 'nav-r1 data' or 'nav-r1 scene-data' (recognised by its card)")
    p.add_argument("--model", type=Path, required=True, help="Local Qwen2.5-VL checkpoint folder")
    p.add_argument("--out", type=Path, required=True, help="Final checkpoint folder (written when complete)")
    p.add_argument("--run-dir", type=Path, default=None, help="Logs, curves and resumable checkpoints "
                   "(default: OUT.run)")
    p.add_argument("--max-steps", type=int, default=100, help="Optimizer steps")
    p.add_argument("--batch-size", type=int, default=4, help="Examples per device per step")
    p.add_argument("--grad-accum", type=int, default=1, help="Gradient accumulation steps")
    p.add_argument("--learning-rate", type=float, default=None, help="Default 1e-4 (SFT), 1e-5 (GRPO)")
    p.add_argument("--lora-rank", type=int, default=0, help="LoRA rank; 0 trains every weight")
    p.add_argument("--lora-alpha", type=int, default=0, help="LoRA alpha (default 2 x rank)")
    p.add_argument("--lora-targets", default="q_proj,k_proj,v_proj,o_proj",
                   help="Comma-separated module names adapted in the language blocks")
    p.add_argument("--lora-last-blocks", type=int, default=0, help="Adapt only the last N blocks (Nav-R1: 8)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--bf16", action="store_true", help="bfloat16 weights and autocast (GPU)")
    p.add_argument("--deepspeed", default=None, help="DeepSpeed JSON config (e.g. config/deepspeed/zero2.json)")
    p.add_argument("--save-steps", type=int, default=50, help="Save a resumable checkpoint every N steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-rows", type=int, default=0, help="Use only the first N training rows (0: all)")
    p.add_argument("--blank-images", action="store_true", help="Blind control: train on zeroed images")
    p.add_argument("--resume", action="store_true", help="Continue from the newest complete checkpoint")
    p.add_argument("--force", action="store_true", help="Replace an existing --out when done")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``nav-r1 train``."""
    parser = argparse.ArgumentParser(prog="nav-r1 train", description="Fine-tune Qwen2.5-VL with TRL.")
    sub = parser.add_subparsers(dest="kind", required=True)
    _common(sub.add_parser("sft", help="Supervised fine-tuning on the targets (loss on replies only)"))
    g = sub.add_parser("grpo", help="GRPO with Nav-R1's verifiable rewards (3D-R1's on scene data)")
    _common(g)
    g.add_argument("--num-generations", type=int, default=4, help="Group size G")
    g.add_argument("--max-completion-length", type=int, default=128, help="Generation length [tokens]")
    g.add_argument("--beta", type=float, default=0.02, help="KL coefficient (Nav-R1: 0.02)")
    g.add_argument("--temperature", type=float, default=1.0, help="Sampling temperature of the group")
    g.add_argument("--format-weight", type=float, default=1.0, help="Weight of R_format")
    g.add_argument("--navigation-weight", type=float, default=1.0, help="Weight of R_path + R_end")
    g.add_argument("--action-weight", type=float, default=0.0, help="Weight of the exact action match")
    g.add_argument("--perception-weight", type=float, default=1.0,
                   help="Scene data: weight of the 3D IoU reward (grounding rows)")
    g.add_argument("--semantic-weight", type=float, default=1.0,
                   help="Scene data: weight of the answer's embedding similarity (0: no embedding model)")
    g.add_argument("--embedding-model", default="",
                   help="Scene data: sentence-transformers folder (default: the bundled all-MiniLM-L6-v2)")
    g.add_argument("--reward-k", type=float, default=1.0, help="Distance scale k of exp(-k d) [1/m]")
    g.add_argument("--use-vllm", action="store_true", help="Generate with vLLM (GPU; TRL's integration)")
    g.add_argument("--vllm-mode", choices=("colocate", "server"), default="colocate")
    return parser


def train_main(argv: Sequence[str]) -> int:
    """Run ``nav-r1 train``; one line on stderr for bad input."""
    ns = build_parser().parse_args(list(argv))
    from nav_r1.data.rows import DatasetError
    from nav_r1.train.common import TrainError, TrainOptions
    from nav_r1.train.sft import TrainInterruptedError

    try:
        opts = TrainOptions(
            data=ns.data, model=ns.model, out=ns.out, run_dir=ns.run_dir or ns.out.with_name(ns.out.name + ".run"),
            max_steps=ns.max_steps, batch_size=ns.batch_size, grad_accum=ns.grad_accum,
            learning_rate=ns.learning_rate or (1e-4 if ns.kind == "sft" else 1e-5), lora_rank=ns.lora_rank,
            lora_alpha=ns.lora_alpha, lora_targets=tuple(t.strip() for t in ns.lora_targets.split(",") if t.strip()),
            lora_last_blocks=ns.lora_last_blocks, device=ns.device, bf16=ns.bf16, save_steps=ns.save_steps,
            seed=ns.seed, resume=ns.resume, force=ns.force, blank_images=ns.blank_images, max_rows=ns.max_rows,
            deepspeed=ns.deepspeed,
        )
        if ns.kind == "sft":
            from nav_r1.train.sft import run_sft

            out = run_sft(opts)
        else:
            from nav_r1.train.grpo import GrpoOptions, run_grpo

            g = GrpoOptions(num_generations=ns.num_generations, max_completion_length=ns.max_completion_length,
                            beta=ns.beta, temperature=ns.temperature, format_weight=ns.format_weight,
                            navigation_weight=ns.navigation_weight, action_weight=ns.action_weight,
                            perception_weight=ns.perception_weight, semantic_weight=ns.semantic_weight,
                            embedding_model=ns.embedding_model, reward_k=ns.reward_k, use_vllm=ns.use_vllm,
                            vllm_mode=ns.vllm_mode)
            out = run_grpo(opts, g)
    except TrainInterruptedError as exc:
        print(f"nav-r1 train {ns.kind}: {exc}", file=sys.stderr)
        return 130
    except (TrainError, DatasetError, ParamError) as exc:
        print(f"nav-r1 train {ns.kind}: {exc}", file=sys.stderr)
        return 2
    print(f"nav-r1 train {ns.kind}: wrote {out} (logs and curves in {opts.run_dir})")
    return 0
