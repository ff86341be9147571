"""Offline replay speed: messages per second and multiple of real time, against reading the bag alone.

    .venv/bin/python bench/bench_replay.py                      # a synthetic 60 s bag (built here)
    .venv/bin/python bench/bench_replay.py --bag RUN/bag        # the main job's bag (nav-r1 sim --out RUN)

Baseline, measured in the same run on the same messages: reading and deserialising every input
message of the control core with rosbags, nothing else. The replay adds depth projection, the
zone check and the 100 Hz controller steps on bag time; the full evaluation adds the report.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "bag"))  # the scripted-phase bag builder

from nav_r1.bag.evaluate import EvalOptions, evaluate  # noqa: E402
from nav_r1.bag.offline import OfflineReplay  # noqa: E402
from nav_r1.bag.reader import BagSource  # noqa: E402
from nav_r1.bag.traces import TopicNames, read_traces  # noqa: E402
from nav_r1.control import ControlConfig  # noqa: E402
from r1_core.params import replace  # noqa: E402


def read_only(src: BagSource, topics: list[str]) -> tuple[int, float]:
    """Baseline: read and deserialise every message of ``topics``."""
    t = time.perf_counter()
    n = 0
    for m in src.messages(topics):
        src.deserialize(m)
        n += 1
    return n, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bag", type=Path, help="bag to replay (default: build a synthetic one)")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the synthetic bag [s]")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median reported)")
    args = ap.parse_args()
    tmp = None
    bag = args.bag
    if bag is None:
        from phases import Phases, build_phase_bag

        tmp = Path(tempfile.mkdtemp(prefix="bench_replay."))
        bag = tmp / "bag"
        d = args.seconds
        build_phase_bag(bag, Phases(duration=d, obstacle_on=d * 0.4, obstacle_off=d * 0.6))
        print(f"synthetic bag: {d:.0f} s, odom 50 Hz, cmd_vel 50 Hz, 160x120 depth 10 Hz")
    try:
        with BagSource(bag) as src:
            names = TopicNames()
            cfg = ControlConfig()
            if names.depth not in src.topics:
                cfg = replace(cfg, **{"timeouts.obstacles_s": 0.0})
                print("the bag has no depth: replaying with no obstacle source (--no-obstacles)")
            replay = OfflineReplay(src, cfg, names)
            base, rep, full = [], [], []
            n_msgs = steps = 0
            for _ in range(args.repeat):
                n_msgs, dt = read_only(src, replay.inputs)
                base.append(dt)
                r = OfflineReplay(src, cfg, names)
                t = time.perf_counter()
                run = r.run()
                rep.append(time.perf_counter() - t)
                steps = r.stats.steps
                t = time.perf_counter()
                evaluate(read_traces(src, names), run, EvalOptions())
                full.append(rep[-1] + time.perf_counter() - t)
            duration = src.duration_s
        print(f"bag: {bag}  ({duration:.1f} s, {n_msgs} input messages, {steps} controller steps)")
        print(f"{'stage':<34}{'wall [s]':>10}{'msg/s':>12}{'x real time':>14}")
        for name, times in (("baseline: read + deserialise", base), ("offline replay (core)", rep),
                            ("replay + evaluation (no plots)", full)):
            w = statistics.median(times)
            print(f"{name:<34}{w:>10.3f}{n_msgs / w:>12.0f}{duration / w:>14.1f}")
        ratio = statistics.median(rep) / statistics.median(base)
        print(f"replay costs {ratio:.2f}x the baseline read (median of {args.repeat})")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
