"""Self-supervised adaptation of the learned model's adapters to a new domain.

Only the adapters train — LoRA A, B and rank gates, plus the ConvGRU stereo refinement for the
Depth Anything V2 architecture — from unlabelled rectified pairs (a folder or two image topics
of a rosbag2), with the photometric + smoothness + monocular-prior objective of
:mod:`stereo_adapter.losses`. Only the adapter weights are saved; the loss curve is plotted.

``stereo-adapt --weights base.safetensors --data pairs/ --out adapters.safetensors``
``stereo-adapt --encoder-path Depth-Anything-V2-Base-hf/ --data bag/ --out adapters.safetensors``
(released encoder weights from a local folder; the base file is written next to ``--out``)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from tqdm import tqdm

from r1_core import topics
from stereo_adapter.data import stack_rgb
from stereo_adapter.learned import (
    StereoNet,
    WeightsError,
    gate_penalty,
    load_adapters,
    load_model,
    resolve_device,
    save_adapters,
    save_base,
    train_only_adapters,
)
from stereo_adapter.lora import is_lora_key
from stereo_adapter.losses import SelfSupWeights, self_supervised_loss

Pair = tuple[NDArray[np.uint8], NDArray[np.uint8]]


def _check_pairs(pairs: Sequence[Pair], refine_lr_scale: float) -> None:
    if not pairs:
        raise ValueError("no stereo pairs to adapt on")
    shapes = {p[0].shape for p in pairs} | {p[1].shape for p in pairs}
    if len(shapes) != 1:
        raise ValueError(f"all pairs must share one image size, got {sorted(shapes)}")
    if refine_lr_scale < 0:
        raise ValueError(f"refine_lr_scale must be >= 0, got {refine_lr_scale}")


def _adapter_optimizer(model: StereoNet, lr: float, refine_lr_scale: float
                       ) -> tuple[torch.optim.Optimizer, list[torch.nn.Parameter]]:
    """Adam over the adapters (LoRA, gates at ``lr``; the refinement at ``lr · refine_lr_scale``)."""
    params = train_only_adapters(model)
    lora = [p for n, p in model.named_parameters() if p.requires_grad and is_lora_key(n)]
    rest = [p for n, p in model.named_parameters() if p.requires_grad and not is_lora_key(n)]
    if refine_lr_scale == 0:  # LoRA and gates only: the refinement keeps its pre-trained weights
        for p in rest:
            p.requires_grad_(False)
        params, rest = lora, []
    groups = [{"params": lora, "lr": lr}] + ([{"params": rest, "lr": lr * refine_lr_scale}] if rest else [])
    return torch.optim.Adam(groups, lr=lr), params


def _objective(model: StereoNet, left: torch.Tensor, right: torch.Tensor, w: SelfSupWeights
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The self-supervised objective of one batch and its loss terms (of the final estimate)."""
    out = model(left, right)
    seq, mono = out["sequence"], out["mono"]
    assert isinstance(seq, list) and isinstance(mono, torch.Tensor)
    terms = self_supervised_loss(left, right, seq[-1], mono, w)
    # Earlier refinement steps get a lighter photometric term so the whole recurrence adapts.
    total = terms["total"]
    for i, d in enumerate(seq[:-1]):
        total = total + 0.5 ** (len(seq) - 1 - i) * self_supervised_loss(left, right, d, mono, w)["photometric"]
    return total + w.gate_l1 * gate_penalty(model), terms


def adapt_lora(
    model: StereoNet,
    pairs: Sequence[Pair],
    steps: int,
    batch: int = 4,
    lr: float = 2e-3,
    seed: int = 0,
    weights: SelfSupWeights | None = None,
    progress: bool = False,
    refine_lr_scale: float = 0.1,
) -> list[dict[str, float]]:
    """Train only the adapters on unlabelled ``pairs``; returns each step's loss terms.

    'compact' trains its LoRA tensors; 'dav2' its PEFT LoRA, rank gates and stereo refinement.
    The refinement is already trained (LoRA starts at zero), so it moves at ``lr · refine_lr_scale``.
    """
    _check_pairs(pairs, refine_lr_scale)
    w = weights or SelfSupWeights()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    device = next(model.parameters()).device
    opt, params = _adapter_optimizer(model, lr, refine_lr_scale)
    left_all = torch.from_numpy(stack_rgb([p[0] for p in pairs]))
    right_all = torch.from_numpy(stack_rgb([p[1] for p in pairs]))
    # Dropout-free networks: train() only matters for which refinement outputs come back.
    model.train()
    history: list[dict[str, float]] = []
    bar = tqdm(range(steps), disable=not progress, desc="adapt", file=sys.stderr)
    for _ in bar:
        idx = torch.from_numpy(rng.choice(len(pairs), size=min(batch, len(pairs)), replace=False))
        total, terms = _objective(model, left_all[idx].to(device), right_all[idx].to(device), w)
        opt.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        row = {k: float(v.detach()) for k, v in terms.items()}
        row["objective"] = float(total.detach())
        history.append(row)
        bar.set_postfix(loss=f"{row['total']:.4f}")
    for p in model.parameters():
        p.requires_grad_(False)
    model.eval()
    return history


def released_model(path: Path, device: str = "cpu") -> StereoNet:
    """The 'dav2' network with encoder weights from a local released folder (no download)."""
    from stereo_adapter.dav2 import DAv2StereoNet

    if not (path / "config.json").is_file():
        raise WeightsError(f"no Depth Anything model folder at {path} (config.json missing)")
    try:
        model = DAv2StereoNet.from_released(path)
    except (OSError, ValueError) as exc:
        raise WeightsError(f"cannot load Depth Anything weights from {path}: {exc}") from exc
    return model.to(resolve_device(device)).eval()


def plot_history(history: Sequence[dict[str, float]], path: str | Path) -> Path:
    """Save the loss curve (total and photometric, with a moving average) as an image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key in ("total", "photometric"):
        y = np.array([h[key] for h in history])
        k = max(1, len(y) // 10)
        ax.plot(y, alpha=0.3)
        ax.plot(np.convolve(y, np.ones(k) / k, mode="valid"), label=f"{key} (moving avg {k})")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("LoRA self-supervised adaptation")
    ax.legend()
    fig.tight_layout()
    fig.savefig(p, dpi=100)
    plt.close(fig)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: adapt the adapters of a base model to the pairs in a folder or a bag."""
    from stereo_adapter.io import load_pairs_bag, load_pairs_folder

    ap = argparse.ArgumentParser(description="Self-supervised LoRA adaptation of the learned stereo model")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--weights", type=Path, help="base weights (.safetensors)")
    src.add_argument("--encoder-path", type=Path,
                     help="local Depth Anything V2 folder (transformers format): 'dav2' model from released weights")
    ap.add_argument("--adapters", type=Path, default=None, help="start from these adapters")
    ap.add_argument("--data", type=Path, required=True, help="folder of pairs, or a rosbag2 folder/.mcap")
    ap.add_argument("--left-topic", default=topics.STEREO_LEFT_IMAGE)
    ap.add_argument("--right-topic", default=topics.STEREO_RIGHT_IMAGE)
    ap.add_argument("--max-pairs", type=int, default=500)
    ap.add_argument("--out", type=Path, required=True, help="output adapter weights (.safetensors)")
    ap.add_argument("--plot", type=Path, default=None, help="loss curve image (default: next to --out)")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-3, help="learning rate of the LoRA tensors and gates")
    ap.add_argument("--refine-lr-scale", type=float, default=0.1,
                    help="dav2: the stereo refinement's learning rate as a fraction of --lr")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    try:
        if args.encoder_path is not None:
            model = released_model(args.encoder_path, args.device)
            base = save_base(model, args.out.with_suffix(".base.safetensors"))
            print(f"base weights (released encoder, fresh refinement) written to {base}", file=sys.stderr)
        else:
            model = load_model(args.weights, None, args.device)
        if args.adapters is not None:
            load_adapters(model, args.adapters)
        is_bag = args.data.suffix == ".mcap" or (args.data / "metadata.yaml").is_file()
        if is_bag:
            pairs = load_pairs_bag(args.data, args.left_topic, args.right_topic, args.max_pairs)
        else:
            pairs = load_pairs_folder(args.data, args.max_pairs)
    except (WeightsError, ValueError, OSError) as exc:
        print(f"stereo-adapt: {exc}", file=sys.stderr)
        return 2
    print(f"adapting on {len(pairs)} pairs of {pairs[0][0].shape[1]}x{pairs[0][0].shape[0]}", file=sys.stderr)
    history = adapt_lora(model, pairs, args.steps, args.batch, args.lr, args.seed, progress=True,
                         refine_lr_scale=args.refine_lr_scale)
    save_adapters(model, args.out)
    plot = plot_history(history, args.plot or args.out.with_suffix(".loss.png"))
    first = np.mean([h["total"] for h in history[: max(1, len(history) // 10)]])
    last = np.mean([h["total"] for h in history[-max(1, len(history) // 10):]])
    print(f"wrote {args.out} and {plot}; loss {first:.4f} -> {last:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
