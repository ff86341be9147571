"""Reasoner-side costs: the reply parser, and the policy server's overhead over a local call.

1. ``parse_response`` on a typical Nav-R1 reply, against the least any parser does (one regex
   pulling out the ``<action>`` block) as the baseline.
2. The same tiny random Qwen2.5-VL answering the Nav-R1 prompt (5 history frames + current,
   320x240) in-process and through ``policy_server`` over localhost HTTP: the ratio is what the
   OpenAI-compatible hop (PNG or JPEG encoding, JSON, HTTP) costs on top of the model.  The history
   slides by one frame per call, so the client's encoding cache re-encodes one frame of six.  With a real 7B
   model the model time dominates and the ratio tends to 1; the tiny model shows the overhead.

Run: ``.venv/bin/python bench/bench_reasoner.py``
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from nav_r1 import NavPrompt, parse_response
from r1_core.backends.openai_client import OpenAIChatVLM, OpenAIClientConfig
from r1_core.backends.transformers_vlm import TransformersConfig, TransformersVLM
from r1_core.reasoner import Frame, Observation, PromptedReasoner
from r1_core.server import create_app
from r1_core.testing.http import serve_app
from r1_core.testing.tiny_qwen import build_tiny_qwen

REPLY = (
    "<think>The instruction asks me to reach the kitchen. In the current view the hallway continues "
    "ahead and the kitchen doorway is visible on the left, about two metres away. I should turn "
    "towards it.</think><action>turn left 30°, move forward 75cm</action>"
)
_BASELINE = re.compile(r"<action>(.*?)</action>", re.DOTALL)


def per_call_us(fn, n: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def bench_parser() -> None:
    n = 20000
    ours = per_call_us(lambda: parse_response(REPLY), n)
    base = per_call_us(lambda: _BASELINE.search(REPLY), n)
    assert parse_response(REPLY).ok
    print(f"parse_response: {ours:.1f} us/reply; baseline single regex: {base:.2f} us; ratio {ours / base:.1f}x")


def synthetic_frame(seed: int, h: int = 240, w: int = 320) -> np.ndarray:
    """Smooth shading plus sensor noise: compresses like a camera frame (pure noise would not)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy + 40 * seed) % 256], axis=-1)
    return np.clip(base + rng.integers(-6, 7, (h, w, 3)), 0, 255).astype(np.uint8)


def _p50_ms(values: list[float]) -> float:
    return statistics.median(values) * 1e3


def bench_server(n: int = 10) -> None:
    frames = [Frame(synthetic_frame(i)) for i in range(n + 8)]

    def obs_at(k: int) -> Observation:
        """A new current frame each call; the 5 history frames slide along, as on a robot."""
        return Observation("Go to the kitchen and stop at the fridge.", frames[k + 5], history=tuple(frames[k : k + 5]))

    with tempfile.TemporaryDirectory() as tmp:
        path = build_tiny_qwen(Path(tmp) / "tiny")
        backend = TransformersVLM(
            TransformersConfig(model=str(path), device="cpu", max_new_tokens=16, max_image_side=320)
        )
        variants: dict[str, PromptedReasoner] = {"in-process": PromptedReasoner(backend, NavPrompt())}
        with serve_app(create_app(backend, served_model_name="tiny")) as url:
            clients = []
            for fmt in ("png", "jpeg"):
                cfg = OpenAIClientConfig(base_url=f"{url}/v1", model="tiny", read_timeout_s=60.0, image_format=fmt)
                clients.append(OpenAIChatVLM(cfg))
                variants[f"policy_server {fmt}"] = PromptedReasoner(clients[-1], NavPrompt())
            for reasoner in variants.values():
                reasoner.infer(obs_at(0))
            total: dict[str, list[float]] = {k: [] for k in variants}
            parts: dict[str, dict[str, list[float]]] = {k: {"encode": [], "network": []} for k in variants}
            for k in range(1, n + 1):  # interleaved so machine load affects every variant alike
                obs = obs_at(k)
                for key, reasoner in variants.items():
                    t0 = time.perf_counter()
                    r = reasoner.infer(obs)
                    total[key].append(time.perf_counter() - t0)
                    assert r.ok, r.error
                    for part in ("encode", "network"):
                        if part in r.timings:
                            parts[key][part].append(r.timings[part])
            for c in clients:
                c.close()
    base = _p50_ms(total["in-process"])
    print(f"tiny Qwen2.5-VL, Nav-R1 prompt with 6 frames 320x240, 16 new tokens, CPU, n={n}, p50:")
    for key, values in total.items():
        extra = ""
        if parts[key]["encode"]:
            extra = (f"  (client encode {_p50_ms(parts[key]['encode']):.1f} ms, "
                     f"network+HTTP {_p50_ms(parts[key]['network']):.1f} ms)")
        print(f"  {key:<20} {_p50_ms(values):7.1f} ms  ratio {_p50_ms(values) / base:.2f}x{extra}")


if __name__ == "__main__":
    bench_parser()
    bench_server()
