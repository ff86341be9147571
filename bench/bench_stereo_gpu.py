"""StereoAdapter's real architecture on an accelerator: FPS at 480x640 with 12 ConvGRU iterations.

Random weights of Depth Anything V2's ViT-S and ViT-B configurations (speed does not depend on
weight values), LoRA adapters attached as at deployment (unmerged, rank gates on), batch 1, the
encoder resizing 480x640 to 462x630 as in the paper. Each row also times the encoder alone, so
the refinement's share is visible; OpenCV SGBM on the CPU is the baseline in the same process.

    python bench/bench_stereo_gpu.py --device cuda [--dtype fp32 fp16 bf16] [--seconds 10]
    python bench/bench_stereo_gpu.py --device cpu --encoders tiny --size 48 64 --seconds 0.2  # smoke run

Budget: by default 2 encoders x 2 dtypes x (warm-up + 10 s) — well under 8 minutes on a GPU;
``--budget-s`` stops starting new rows once it is spent.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext

import torch

from stereo_adapter.data import synth_pair
from stereo_adapter.dav2 import DAv2Config, DAv2StereoNet
from stereo_adapter.sgbm import SgbmBackend, SgbmConfig

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_fn(fn: Callable[[], object], device: torch.device, seconds: float, warmup: int = 2,
            min_runs: int = 3) -> tuple[float, float]:
    """(runs per second, median ms) of ``fn`` after ``warmup`` calls, synchronising the device."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < min_runs:
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return len(times) / sum(times), statistics.median(times) * 1e3


def autocast(device: torch.device, dtype: str) -> AbstractContextManager[object]:
    """Mixed precision for fp16/bf16 (weights stay fp32, as a LoRA-adapted deployment would run)."""
    if dtype == "fp32":
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[dtype])


def bench_row(encoder: str, dtype: str, device: torch.device, size: tuple[int, int], iters: int,
              seconds: float) -> dict[str, float | str]:
    """Full network and encoder-only timings for one encoder size and precision."""
    torch.manual_seed(0)
    model = DAv2StereoNet(DAv2Config(encoder=encoder, iters=iters)).to(device).eval()
    left = torch.rand(1, 3, *size, device=device)
    right = torch.rand(1, 3, *size, device=device)

    @torch.inference_mode()
    def full() -> object:
        with autocast(device, dtype):
            return model(left, right, iters=iters)

    @torch.inference_mode()
    def encoder_only() -> object:
        with autocast(device, dtype):
            return model.encode(torch.cat([left, right], 0))

    fps, ms = time_fn(full, device, seconds)
    _, enc_ms = time_fn(encoder_only, device, seconds / 2)
    n_params = sum(p.numel() for p in model.parameters())
    row: dict[str, float | str] = {"encoder": encoder, "dtype": dtype, "fps": fps, "ms": ms, "encoder_ms": enc_ms,
                                   "params_m": n_params / 1e6}
    if device.type == "cuda":
        row["peak_mem_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
        torch.cuda.reset_peak_memory_stats(device)
    return row


def main(argv: Sequence[str] | None = None) -> int:
    """Print one table row per encoder x precision, with SGBM (CPU) as the baseline."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--encoders", nargs="+", default=["vits", "vitb"], help="dav2 encoder presets")
    ap.add_argument("--dtype", nargs="+", choices=sorted(DTYPES), default=["fp32", "fp16"])
    ap.add_argument("--size", type=int, nargs=2, default=(480, 640), metavar=("H", "W"))
    ap.add_argument("--iters", type=int, default=12, help="ConvGRU iterations")
    ap.add_argument("--seconds", type=float, default=10.0, help="timing window per row")
    ap.add_argument("--budget-s", type=float, default=420.0, help="start no new row after this many seconds")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but torch sees no CUDA device")
    size = (args.size[0], args.size[1])
    start = time.perf_counter()
    sample = synth_pair(0, size)
    # The node's default 64-disparity search, narrowed only for images too small to hold it.
    sgbm = SgbmBackend(SgbmConfig(num_disparities=max(16, min(64, size[1] // 4 // 16 * 16))))
    sgbm_fps, sgbm_ms = time_fn(lambda: sgbm.compute(sample.left, sample.right, sample.calib),
                                torch.device("cpu"), min(args.seconds, 3.0))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    print(f"stereo GPU bench: {size[1]}x{size[0]}, {args.iters} GRU iterations, device {name}, "
          f"torch {torch.__version__}, random weights")
    print("| model | precision | FPS | median ms | encoder ms (both views) | params (M) | peak GiB | vs SGBM (CPU) |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| SGBM 3-way (CPU, baseline) | - | {sgbm_fps:.1f} | {sgbm_ms:.1f} | - | - | - | 1.00x |")
    for encoder in args.encoders:
        for dtype in args.dtype:
            if time.perf_counter() - start > args.budget_s:
                print(f"| dav2 {encoder} | {dtype} | skipped: --budget-s {args.budget_s:.0f} s spent | | | | | |")
                continue
            if dtype == "fp16" and device.type == "cpu":
                print(f"| dav2 {encoder} | fp16 | skipped: no fp16 autocast on CPU | | | | | |")
                continue
            r = bench_row(encoder, dtype, device, size, args.iters, args.seconds)
            if device.type == "cuda":
                torch.cuda.empty_cache()  # the row's model is gone; give its memory back before the next
            fps = float(r["fps"])
            mem = f"{float(r['peak_mem_gib']):.2f}" if "peak_mem_gib" in r else "-"
            print(f"| dav2 {encoder} | {dtype} | {fps:.1f} | {float(r['ms']):.1f} | {float(r['encoder_ms']):.1f} "
                  f"| {float(r['params_m']):.1f} | {mem} | {fps / sgbm_fps:.2f}x |", flush=True)
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
