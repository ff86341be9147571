"""The evaluation table: SGBM vs the learned model before and after adaptation, clean and
underwater, against ground truth (AbsRel, SqRel, RMSE, RMSElog, δ<1.25ⁿ, EPE, D1, density).

Clean pairs are the MuJoCo simulator's stereo renders (``r1_sim.stereo``) when installed, else
analytic scenes; underwater pairs are the same pairs through :mod:`stereo_adapter.underwater`.
Adaptation uses a separate set of unlabelled underwater pairs (never the test pairs' labels).
``stereo-eval --out runs/stereo_eval [--model dav2]`` prints the table and writes ``results.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from stereo_adapter.adapt import adapt_lora, plot_history
from stereo_adapter.backends import DepthBackend
from stereo_adapter.data import StereoSample, simulator_dataset, synth_dataset
from stereo_adapter.learned import LearnedBackend, StereoNet, build_model, load_model, save_adapters, save_base
from stereo_adapter.metrics import METRIC_NAMES, format_table, mean_metrics, stereo_metrics
from stereo_adapter.pretrain import clean_training_set, make_config, train_supervised
from stereo_adapter.sgbm import SgbmBackend, SgbmConfig
from stereo_adapter.underwater import underwater_dataset


def evaluate_backend(backend: DepthBackend, samples: Sequence[StereoSample]) -> dict[str, float]:
    """Mean metrics of ``backend`` over ``samples`` (plus its mean time per pair in ms)."""
    rows = []
    t0 = time.perf_counter()
    for s in samples:
        r = backend.compute(s.left, s.right, s.calib)
        rows.append(stereo_metrics(r.disparity, r.valid, s.depth_gt, s.calib.focal_baseline))
    out = mean_metrics(rows)
    out["ms_per_pair"] = (time.perf_counter() - t0) * 1e3 / max(1, len(samples))
    return out


def clean_pairs(n: int, seed: int, size: tuple[int, int], source: str) -> tuple[list[StereoSample], str]:
    """Clean test pairs from the simulator (``sim``/``auto``) or analytic scenes."""
    if source in ("sim", "auto"):
        return simulator_dataset(n, seed, size), "mujoco"
    return synth_dataset(n, seed, size), "analytic"


def sgbm_for(samples: Sequence[StereoSample]) -> SgbmBackend:
    """SGBM with a search range covering the data's largest true disparity."""
    max_d = max(float(s.disparity_gt.max()) for s in samples)
    return SgbmBackend(SgbmConfig(num_disparities=int(np.clip(np.ceil((max_d + 2) / 16) * 16, 16, 256))))


def base_model(args: argparse.Namespace) -> StereoNet:
    """A fresh base network for ``--model``: released encoder weights when given, else random."""
    if args.encoder_path:
        from stereo_adapter.dav2 import DAv2StereoNet

        return DAv2StereoNet.from_released(args.encoder_path)
    return build_model(make_config(args.model, args.tiny, args.encoder))


def run(args: argparse.Namespace) -> dict[str, object]:
    """Build data, get base weights, evaluate, adapt, evaluate again; returns the results."""
    torch.manual_seed(args.seed)
    size = (args.size[0], args.size[1])
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    test_clean, source = clean_pairs(args.pairs, args.seed + 10, size, args.source)
    test_uw = underwater_dataset(test_clean, args.preset, seed=args.seed + 11)
    adapt_clean, _ = clean_pairs(args.adapt_pairs, args.seed + 20, size, args.source)
    adapt_uw = underwater_dataset(adapt_clean, args.preset, seed=args.seed + 21)

    weights = Path(args.weights) if args.weights else out_dir / "base.safetensors"
    if not weights.is_file():
        fresh = base_model(args)
        if args.pretrain_steps > 0:
            train = clean_training_set(args.train_pairs, args.seed + 30, size, use_sim=source == "mujoco")
            print(f"pre-training base weights on {len(train)} clean pairs -> {weights}", file=sys.stderr)
            train_supervised(fresh, train, args.pretrain_steps, 4, 1e-3, args.seed, progress=True,
                             freeze_encoder=bool(args.encoder_path))
        save_base(fresh, weights)
    model = load_model(weights)

    sgbm = sgbm_for(test_clean)
    rows: dict[str, dict[str, float]] = {}
    rows["SGBM / clean"] = evaluate_backend(sgbm, test_clean)
    rows["SGBM / underwater"] = evaluate_backend(sgbm, test_uw)
    rows[f"{model.arch} base / clean"] = evaluate_backend(LearnedBackend(model), test_clean)
    rows[f"{model.arch} base / underwater"] = evaluate_backend(LearnedBackend(model), test_uw)
    history = adapt_lora(model, [(s.left, s.right) for s in adapt_uw], args.adapt_steps, 4, args.lr,
                         args.seed, progress=True, refine_lr_scale=args.refine_lr_scale)
    save_adapters(model, out_dir / "adapters_underwater.safetensors")
    plot_history(history, out_dir / "adaptation_loss.png")
    rows[f"{model.arch} adapted / clean"] = evaluate_backend(LearnedBackend(model), test_clean)
    rows[f"{model.arch} adapted / underwater"] = evaluate_backend(LearnedBackend(model), test_uw)
    result: dict[str, object] = {
        "model": model.arch, "config": model.cfg.to_json(), "source": source, "size": list(size),
        "test_pairs": len(test_clean), "adapt_pairs": len(adapt_uw),
        "seed": args.seed, "preset": args.preset, "adapt_steps": args.adapt_steps, "lr": args.lr,
        "refine_lr_scale": args.refine_lr_scale, "rows": rows,
    }
    (out_dir / "results.json").write_text(json.dumps(result, indent=2))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: print the evaluation table."""
    ap = argparse.ArgumentParser(description="Evaluate SGBM and the learned model, clean and underwater")
    ap.add_argument("--out", default="runs/stereo_eval")
    ap.add_argument("--weights", default="", help="base weights; pre-trained into --out when absent")
    ap.add_argument("--size", type=int, nargs=2, default=(96, 128), metavar=("H", "W"))
    ap.add_argument("--pairs", type=int, default=24, help="test pairs")
    ap.add_argument("--adapt-pairs", type=int, default=24, help="unlabelled underwater pairs to adapt on")
    ap.add_argument("--train-pairs", type=int, default=64, help="clean pre-training pairs per source")
    ap.add_argument("--pretrain-steps", type=int, default=800, help="0 keeps the fresh (random) base weights")
    ap.add_argument("--adapt-steps", type=int, default=150)
    ap.add_argument("--lr", type=float, default=1e-3, help="adaptation learning rate (LoRA and gates)")
    ap.add_argument("--refine-lr-scale", type=float, default=0.1, help="dav2: refinement lr as a fraction of --lr")
    ap.add_argument("--preset", default="coastal")
    ap.add_argument("--source", choices=("auto", "sim", "analytic"), default="auto")
    ap.add_argument("--tiny", action="store_true", help="tiny architecture (fast, for smoke runs)")
    ap.add_argument("--model", choices=("compact", "dav2"), default="compact",
                    help="learned architecture when no --weights are given")
    ap.add_argument("--encoder", default="vits", help="dav2 encoder preset (tiny, vits, vitb, vitl)")
    ap.add_argument("--encoder-path", default="", help="dav2: local released Depth Anything V2 folder")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    result = run(args)
    rows = result["rows"]
    assert isinstance(rows, dict)
    print(f"\nmodel: {result['model']}; source: {result['source']} {args.size[1]}x{args.size[0]}, "
          f"{result['test_pairs']} test pairs, "
          f"{result['adapt_pairs']} unlabelled adaptation pairs, seed {args.seed}, water '{args.preset}'")
    print(format_table(rows, (*METRIC_NAMES, "ms_per_pair")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
