"""Real-time factor of a full-graph simulated run, beside the same episodes run in one process.

The full graph is ``nav-r1 sim`` (sim bridge, reasoning node, control node as separate processes,
lock-stepped over DDS, rendering RGB-D at 10 Hz); the baseline is ``r1_sim.rollout.run_episode``
(simulator + expert + parser + a simple controller in one Python loop, rendering frames too), so
the ratio is the price of running the real node graph.

    .venv/bin/python bench/bench_graph.py [--robot dog] [--episodes 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def full_graph(robot: str, episodes: int, seed: int) -> tuple[float, float]:
    """Simulated and wall seconds of ``nav-r1 sim``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-c", "import sys; from nav_r1.cli import main; sys.exit(main())", "sim",
               "--robot", robot, "--episodes", str(episodes), "--seed", str(seed), "--depth", "none",
               "--out", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"nav-r1 sim failed:\n{proc.stderr[-2000:]}")
        run = json.loads((out / "report.json").read_text())["run"]
        return float(run["sim_time_s"]), float(run["wall_time_s"])


def in_process(robot: str, episodes: int, seed: int) -> tuple[float, float]:
    """Simulated and wall seconds of the same episodes in one process (rendering frames)."""
    from r1_sim.episodes import generate_episodes
    from r1_sim.expert import expert_for_episode
    from r1_sim.rollout import run_episode
    from r1_sim.scene import generate_scene
    from r1_sim.world import Simulator

    scene = generate_scene(seed)
    eps = generate_episodes(scene, episodes, seed, robot)
    sim = Simulator(robot, scene)
    t0 = time.perf_counter()
    sim_time = 0.0
    for ep in eps:
        sim_time += run_episode(sim, expert_for_episode(ep), ep, render=True).time
    sim.close()
    return sim_time, time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--robot", default="dog")
    p.add_argument("--episodes", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    os.environ.setdefault("MUJOCO_GL", "egl")
    base_sim, base_wall = in_process(a.robot, a.episodes, a.seed)
    sim_t, wall_t = full_graph(a.robot, a.episodes, a.seed)
    base_rtf, rtf = base_sim / base_wall, sim_t / wall_t
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; robot {a.robot}, {a.episodes} episodes")
    print(f"{'run':<34}{'sim [s]':>10}{'wall [s]':>10}{'real-time factor':>18}")
    print(f"{'in-process rollout (baseline)':<34}{base_sim:>10.1f}{base_wall:>10.1f}{base_rtf:>18.2f}")
    print(f"{'full node graph, lock-step':<34}{sim_t:>10.1f}{wall_t:>10.1f}{rtf:>18.2f}")
    print(f"full graph / baseline real-time factor: {rtf / base_rtf:.2f}x")


if __name__ == "__main__":
    main()
