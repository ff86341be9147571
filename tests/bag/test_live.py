"""Live replay of the scripted bag through the real control node (a subprocess on sim time).

The player publishes ``/clock`` and the bag's inputs; the node runs with ``use_sim_time:=true``.
Rate 1 and rate 5 must agree within :data:`REPLAY_TOLERANCES`, and both with the offline replay.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nav_r1.bag.cli import replay_main
from nav_r1.bag.evaluate import REPLAY_TOLERANCES, EvalOptions, replay_differences

pytestmark = [pytest.mark.ros, pytest.mark.e2e]


def _control_node() -> subprocess.Popen:
    # Normal scheduling: on a shared, overloaded CI box the node's SCHED_FIFO threads starved its
    # own executor (5 commands in a 6 s replay). Input timeouts are in sim time: at rate 5 the
    # default 0.2 s odometry timeout is 40 ms of wall time, which a busy 2-core runner misses;
    # 1 s (200 ms wall at rate 5) keeps staleness events about the bag, not about the runner.
    # A 50 Hz loop (the recorded cmd_vel's rate) is 250 Hz of wall time at rate 5, which two
    # shared cores sustain; stops do not wait for the loop (the depth callback publishes zero).
    return subprocess.Popen(
        [sys.executable, "-m", "nav_r1.nodes.control_node", "--ros-args", "-p", "use_sim_time:=true",
         "-p", "realtime_priority:=0", "-p", "timeouts.odom_s:=1.0", "-p", "timeouts.obstacles_s:=1.0",
         "-p", f"rate_hz:={LOOP_HZ}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ),
    )


def _live(bag: Path, out: Path, rate: float) -> dict:
    node = _control_node()
    try:
        rc = replay_main([str(bag), "--report", str(out), "--live", "--rate", str(rate), "--wait", "60",
                          "--no-progress", "--no-plots"])
    finally:
        node.send_signal(signal.SIGINT)  # run_node's clean shutdown path
        try:
            log = node.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            node.kill()
            log = node.communicate()[0]
    assert rc == 0, log[-2000:]
    return json.loads((out / "report.json").read_text())


#: The node's loop rate in these tests [Hz of sim time].
LOOP_HZ = 50.0
#: Below this share of its loop rate (in sim time) the node could not keep up with the replay.
MIN_LOOP_SHARE = 0.6


def _skip_if_starved(r: dict) -> None:
    """Live timing presumes the node keeps its loop rate at rate x real time; say so when it did not.

    On a shared runner with dozens of runnable processes per core the node's timer falls behind and
    depth frames queue up; the replay tool then measures the overload faithfully, which is not what
    these assertions are about.
    """
    rate = r["control_loop"]["rate_hz"] or 0.0
    if rate < MIN_LOOP_SHARE * LOOP_HZ and not os.environ.get("R1_STRICT_LIVE"):
        pytest.skip(f"machine overloaded: control loop ran at {rate:.0f} of {LOOP_HZ:g} Hz (sim time) at "
                    f"replay rate {r['replay']['rate']}, player lag {r['replay']['max_lag_s']} s; "
                    "R1_STRICT_LIVE=1 makes this a failure")


def _check_phases(r: dict, obstacle_on: float) -> None:
    _skip_if_starved(r)
    saf = r["safety"]
    assert len(saf["stops"]) == 1, (saf["events"], r["replay"])
    stop = saf["stops"][0]
    # The node's stop event carries the stamp of the depth frame that showed the obstacle.
    assert stop["obstacle_appeared_s"] == pytest.approx(obstacle_on, abs=1e-6), (stop, r["replay"])
    assert stop["within_target"], stop
    assert stop["time_to_stop_s"] <= EvalOptions.stop_target_s
    assert saf["other_events"] == [], (saf["other_events"], r["replay"])
    assert saf["slowdowns"] == 0
    assert r["commands"]["available"] and r["commands"]["action_agreement"] >= 0.85


@pytest.fixture(scope="module")
def live_reports(phase_bag, tmp_path_factory) -> dict[float, dict]:
    """Reports of live replays at rate 1 and rate 5, each through a fresh control node."""
    bag, _ = phase_bag
    out = tmp_path_factory.mktemp("live")
    return {rate: _live(bag, out / f"rate{rate:g}", rate) for rate in (1.0, 5.0)}


@pytest.mark.parametrize("rate", [1.0, 5.0])
def test_live_replay_shows_the_stop_and_no_other_event(live_reports, phase_bag, rate):
    r = live_reports[rate]
    assert r["mode"] == "live" and r["replay"]["rate"] == rate
    assert r["replay"]["published"]["camera/depth/image_raw"] == phase_bag[1].duration * 10 + 1
    _check_phases(r, phase_bag[1].obstacle_on)


def test_live_rates_agree_with_each_other_and_with_offline(live_reports, phase_bag, tmp_path):
    for r in live_reports.values():
        _skip_if_starved(r)
    diff = replay_differences(live_reports[1.0], live_reports[5.0])
    assert all(d["ok"] for d in diff.values()), (diff, REPLAY_TOLERANCES)
    bag, _ = phase_bag
    assert replay_main([str(bag), "--report", str(tmp_path / "offline"), "--no-plots", "--no-progress"]) == 0
    off = json.loads((tmp_path / "offline" / "report.json").read_text())
    diff = replay_differences(off, live_reports[1.0])
    assert all(d["ok"] for d in diff.values()), diff
