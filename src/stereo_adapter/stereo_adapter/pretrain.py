"""Supervised pre-training of the base network on clean pairs with known depth -> safetensors.

For ``--model compact`` this stands in for a foundation model's pre-training: a short run on
analytic synthetic pairs (and the simulator's clean renders when available). For ``--model dav2``
with ``--encoder-path`` (released Depth Anything V2 weights in a local folder) the encoder stays
frozen and only the stereo refinement trains; with a random ``--encoder`` preset everything but
the adapters trains. Adapters stay at zero and are not trained.
``python -m stereo_adapter.pretrain --out base.safetensors [--model dav2 --encoder vits]``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from stereo_adapter.data import StereoSample, simulator_dataset, stack_rgb, synth_dataset
from stereo_adapter.dav2 import DAv2Config
from stereo_adapter.learned import NetConfig, StereoNet, build_model, save_base
from stereo_adapter.lora import is_lora_key
from stereo_adapter.losses import sequence_loss
from stereo_adapter.model import ModelConfig


def batch_tensors(samples: Sequence[StereoSample]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left, right (Bx3xHxW in [0, 1]) and ground-truth disparity (Bx1xHxW, 0 = unknown)."""
    left = torch.from_numpy(stack_rgb([s.left for s in samples]))
    right = torch.from_numpy(stack_rgb([s.right for s in samples]))
    disp = torch.from_numpy(np.stack([s.disparity_gt for s in samples]))[:, None]
    return left, right, disp


def train_supervised(
    model: StereoNet,
    samples: Sequence[StereoSample],
    steps: int,
    batch: int = 4,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = False,
    freeze_encoder: bool = False,
) -> list[float]:
    """Train the base weights (not the adapters) with the sequence loss; returns per-step loss.

    ``freeze_encoder`` keeps a released Depth Anything encoder as it is ('dav2' only).
    """
    if not samples:
        raise ValueError("no training samples")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    for n, p in model.named_parameters():
        p.requires_grad_(not is_lora_key(n) and not (freeze_encoder and n.startswith("depth_anything.")))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    left_all, right_all, disp_all = batch_tensors(samples)
    max_disp = model.max_disp
    model.train()
    losses = []
    for _ in tqdm(range(steps), disable=not progress, desc="pretrain", file=sys.stderr):
        idx = torch.from_numpy(rng.choice(len(samples), size=min(batch, len(samples)), replace=False))
        left, right, disp = left_all[idx], right_all[idx], disp_all[idx]
        # Brightness/contrast jitter, identical for both views (a photometric, not a geometric, change).
        gain = torch.from_numpy(rng.uniform(0.8, 1.2, size=(len(idx), 1, 1, 1)).astype(np.float32))
        left, right = (left * gain).clamp(0, 1), (right * gain).clamp(0, 1)
        valid = (disp > 0) & (disp < max_disp)
        out = model(left, right)
        seq = out["sequence"]
        mono = out["mono"]
        assert isinstance(seq, list) and isinstance(mono, torch.Tensor)
        loss = sequence_loss(seq, mono, disp, valid)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def clean_training_set(n: int, seed: int, size: tuple[int, int], use_sim: bool = True) -> list[StereoSample]:
    """Analytic pairs, plus as many MuJoCo simulator renders when ``use_sim``."""
    samples = synth_dataset(n, seed, size)
    if use_sim:
        samples += simulator_dataset(n, seed + 1, size)
    return samples


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: pre-train the base network and write its safetensors file."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="output .safetensors file")
    ap.add_argument("--pairs", type=int, default=96, help="clean training pairs per source")
    ap.add_argument("--size", type=int, nargs=2, default=(120, 160), metavar=("H", "W"))
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-sim", action="store_true", help="analytic pairs only")
    ap.add_argument("--tiny", action="store_true", help="the tiny architecture the tests use")
    ap.add_argument("--model", choices=("compact", "dav2"), default="compact", help="learned architecture")
    ap.add_argument("--encoder", default="vits", help="dav2: encoder preset (tiny, vits, vitb, vitl)")
    ap.add_argument("--encoder-path", type=Path, default=None,
                    help="dav2: local Depth Anything V2 folder (released weights; the encoder stays frozen)")
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    if args.model == "dav2" and args.encoder_path is not None:
        from stereo_adapter.dav2 import DAv2StereoNet

        model: StereoNet = DAv2StereoNet.from_released(args.encoder_path)
    else:
        model = build_model(make_config(args.model, args.tiny, args.encoder))
    samples = clean_training_set(args.pairs, args.seed, tuple(args.size), not args.no_sim)
    losses = train_supervised(model, samples, args.steps, args.batch, args.lr, args.seed, progress=True,
                              freeze_encoder=args.encoder_path is not None)
    save_base(model, args.out)
    print(f"wrote {args.out} ({len(samples)} pairs, final loss {np.mean(losses[-20:]):.3f})")
    return 0


def make_config(model: str, tiny: bool = False, encoder: str = "vits") -> NetConfig:
    """The architecture for a ``--model`` choice: compact (default or tiny) or dav2 (an encoder preset)."""
    if model == "compact":
        return tiny_config() if tiny else ModelConfig()
    if model == "dav2":
        return tiny_dav2_config() if tiny else DAv2Config(encoder=encoder)
    raise ValueError(f"unknown model '{model}'; choose 'compact' or 'dav2'")


def tiny_dav2_config() -> DAv2Config:
    """The tiny random Depth Anything V2 architecture for tests and CPU runs (4 blocks of width 32)."""
    return DAv2Config(encoder="tiny", stride=4, hidden_dim=32, corr_levels=3, corr_radius=3, iters=4,
                      max_disp=24.0, lora_rank=4, lora_alpha=4)


def tiny_config() -> ModelConfig:
    """A small architecture for tests and quick runs (stride 4, two blocks, four iterations)."""
    return ModelConfig(embed_dim=32, depth=2, heads=2, stride=4, hidden_dim=32, corr_levels=3, corr_radius=3,
                       iters=4, max_disp=16.0, lora_rank=8, lora_alpha=8.0)


if __name__ == "__main__":
    raise SystemExit(main())
