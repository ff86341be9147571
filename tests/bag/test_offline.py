"""Offline replay of the scripted bag through the real FastController: exact, repeatable numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from phases import Phases, build_phase_bag

from nav_r1.bag.cli import replay_main
from nav_r1.bag.evaluate import EvalOptions, evaluate
from nav_r1.bag.offline import run_offline
from nav_r1.bag.reader import BagSource
from nav_r1.bag.traces import TopicNames, read_traces
from nav_r1.control import ControlConfig


def _replay(bag: Path, out: Path, *extra: str, plots: bool = False) -> dict:
    args = [str(bag), "--report", str(out), "--no-progress", *extra] + ([] if plots else ["--no-plots"])
    assert replay_main(args) == 0
    return json.loads((out / "report.json").read_text())


def test_stop_within_target_and_no_other_event(phase_bag, tmp_path):
    bag, ph = phase_bag
    r = _replay(bag, tmp_path / "report")
    saf = r["safety"]
    assert len(saf["stops"]) == 1
    stop = saf["stops"][0]
    # The obstacle's first frame is the one logged at obstacle_on; the core stops on that frame.
    assert stop["obstacle_appeared_s"] == pytest.approx(ph.obstacle_on, abs=1e-6)
    assert stop["time_to_stop_s"] <= EvalOptions.stop_target_s
    assert stop["within_target"] and saf["all_stops_within_target"]
    assert saf["other_events"] == [] and saf["slowdowns"] == 0 and saf["stale"] == 0
    clear = [e for e in saf["events"] if e["action"] == "clear"]
    assert len(clear) == 1 and clear[0]["t"] == pytest.approx(ph.obstacle_off, abs=1e-6)
    # Commanded and recorded agree: the recording is what a correct controller does.
    cmd = r["commands"]
    assert cmd["available"] and cmd["action_agreement"] >= 0.97
    assert cmd["velocity_error"]["vx"]["rmse"] < 0.02
    # Nothing moves while the obstacle is there.
    assert cmd["confusion"].get("stop->forward", 0) == 0


def test_report_files_and_sections(phase_bag, tmp_path):
    bag, ph = phase_bag
    out = tmp_path / "report"
    r = _replay(bag, out, plots=True)
    for name in ("report.json", "report.md", "commands.png", "latency.png", "trajectory.png"):
        assert (out / name).stat().st_size > 0, name
    md = (out / "report.md").read_text()
    assert "Action agreement" in md and "![trajectory](trajectory.png)" in md
    assert r["mode"] == "offline"
    assert r["reasoner"] == ["scripted"] and "Reasoner: scripted." in md and "## Navigation (success radius" in md
    assert r["plans"]["plans"] == 1 and r["plans"]["latency_s"]["mean"] == pytest.approx(0.05, abs=1e-6)
    assert r["plans"]["reasoner_timings"]["total"]["mean"] == pytest.approx(0.04)
    loop = r["control_loop"]
    assert loop["rate_hz"] == pytest.approx(100.0, rel=0.01)
    assert loop["reported"]["steps"] == round(ph.duration * 100) + 1
    nav = r["navigation"]
    assert nav["available"] and nav["reference"] == "reference_path"
    # The recorded run drove 0.3 m/s for about 4.1 s in all: short of the 1.5 m goal.
    assert 1.1 < nav["path_length_m"] < 1.4
    assert nav["navigation_error_m"] == pytest.approx(ph.goal[0] - nav["path_length_m"], abs=1e-3)
    rew = r["rewards"]
    assert rew["format"] == 1.0
    assert rew["endpoint"] == pytest.approx(2.718281828 ** -nav["navigation_error_m"], rel=1e-4)
    assert 0.0 < rew["path"] <= rew["endpoint"] + 1e-9  # Fréchet >= endpoint distance


def test_two_offline_replays_are_identical(phase_bag, tmp_path):
    bag, _ = phase_bag
    _replay(bag, tmp_path / "a")
    _replay(bag, tmp_path / "b")
    assert (tmp_path / "a" / "report.json").read_bytes() == (tmp_path / "b" / "report.json").read_bytes()
    assert (tmp_path / "a" / "report.md").read_bytes() == (tmp_path / "b" / "report.md").read_bytes()


def test_sqlite3_bag_gives_the_same_report(phase_bag, tmp_path):
    """ros2 bag record's default storage is sqlite3: the same content must evaluate the same."""
    bag, _ = phase_bag
    sq = tmp_path / "sq"
    build_phase_bag(sq, storage="sqlite3")
    a = _replay(bag, tmp_path / "a")
    b = _replay(sq, tmp_path / "b")
    assert a == b


def test_without_a_stop_zone_the_report_shows_the_slowdown_and_no_stop(tmp_path):
    """With the stop zone off, only the slowdown zone reacts: no stop, and the robot creeps on."""
    bag = tmp_path / "bag"
    build_phase_bag(bag)
    import dataclasses

    cfg = ControlConfig()
    cfg = dataclasses.replace(cfg, zones=dataclasses.replace(
        cfg.zones, stop=dataclasses.replace(cfg.zones.stop, enabled=False)))
    with BagSource(bag) as src:
        traces = read_traces(src, TopicNames())
        run, stats = run_offline(src, cfg)
    r = evaluate(traces, run, EvalOptions())
    assert r["safety"]["stops"] == []
    assert r["safety"]["slowdowns"] == 1
    assert [e["action"] for e in r["safety"]["other_events"]] == ["slowdown"]
    assert r["commands"]["action_agreement"] < 0.9  # it kept creeping forward past the obstacle
    inputs = ("odom", "nav_r1/plan", "camera/depth/image_raw", "camera/depth/camera_info")
    assert stats.messages == sum(traces.counts[t] for t in inputs)


def test_teleop_bag_is_replayed_through_the_mux(tmp_path):
    """A teleop run (joy_vel, no plan): the mux forwards it, the stop zone still wins over it."""
    bag = tmp_path / "bag"
    build_phase_bag(bag, Phases(teleop=True))
    r = _replay(bag, tmp_path / "report")
    assert r["control_loop"]["source_share"].get("joy_vel", 0) > 0.9
    assert len(r["safety"]["stops"]) == 1 and r["safety"]["stops"][0]["within_target"]
    assert r["commands"]["action_agreement"] >= 0.95
    assert r["plans"]["plans"] == 0


def test_bag_with_neither_plan_nor_teleop_is_refused(tmp_path, capsys):
    bag = tmp_path / "bag"
    build_phase_bag(bag, Phases(omit=("/nav_r1/plan",)))
    assert replay_main([str(bag), "--report", str(tmp_path / "r"), "--no-progress"]) == 1
    assert "neither a plan" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_bag_without_depth_replays_with_no_obstacles(tmp_path, capsys):
    """The main job records no images by default: --no-obstacles runs the core without that source."""
    bag = tmp_path / "bag"
    build_phase_bag(bag, Phases(omit=("/camera/depth/image_raw", "/camera/depth/camera_info")))
    assert replay_main([str(bag), "--report", str(tmp_path / "r0"), "--no-progress", "--no-plots"]) == 1
    assert "pass --no-obstacles" in capsys.readouterr().err
    r = _replay(bag, tmp_path / "r", "--no-obstacles")
    assert r["safety"]["events"] == []
    # Without the obstacle the controller drives through the phase the recording stood still in.
    assert r["commands"]["confusion"].get("stop->forward", 0) > 50


def test_params_file_sets_the_core(phase_bag, tmp_path):
    params = tmp_path / "control.yaml"
    params.write_text("control_node:\n  ros__parameters:\n    use_sim_time: true\n"
                      "    obstacle_source: depth\n    primitives:\n      linear_speed: 0.2\n")
    r = _replay(phase_bag[0], tmp_path / "r", "--params", str(params))
    assert r["commands"]["velocity_error"]["vx"]["max_abs"] == pytest.approx(0.1, abs=1e-3)


def test_params_file_with_unknown_key_is_refused_with_a_hint(phase_bag, tmp_path, capsys):
    """A typo in --params (limits.max_vxx) is an error with a did-you-mean, not silently ignored."""
    params = tmp_path / "control.yaml"
    params.write_text("control_node:\n  ros__parameters:\n    obstacle_source: depth\n"
                      "    limits:\n      max_vxx: 0.2\n")
    assert replay_main([str(phase_bag[0]), "--report", str(tmp_path / "r"), "--no-progress", "--params",
                        str(params)]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter 'limits.max_vxx'" in err
    assert "did you mean 'limits.max_vx'" in err
    assert not (tmp_path / "r").exists()
