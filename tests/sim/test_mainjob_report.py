"""The main job's reports name the reasoner and radius and give VLN-CE's standard figures (no ROS needed)."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from vlnce_files import r2r_record, write_r2r

from nav_r1.mainjob_report import EXPERT_LABEL, reasoner_label, write_run_report
from r1_sim.episodes import generate_episodes
from r1_sim.robots import load_robot_body
from r1_sim.scene import load_scene
from r1_sim.vlnce import load_vlnce_episodes


def _result(episode_id: str, xyz: np.ndarray, stopped: bool = True) -> dict:
    traj = [[0.1 * i, *p, 0.0] for i, p in enumerate(xyz)]
    return {"episode_id": episode_id, "trajectory": traj, "called_stop": stopped, "collisions": 0,
            "sim_time_s": 10.0, "ticks": 1000, "wall_time_s": 2.0, "sync_deadline_misses": 0, "reasoner_failures": 0}


def _options(reasoner: str) -> SimpleNamespace:
    return SimpleNamespace(robot="dog", reasoner=reasoner, seed=0, sync=True, width=320, height=240)


def test_labels() -> None:
    assert EXPERT_LABEL in reasoner_label("expert") and "upper bound" in reasoner_label("expert")
    assert reasoner_label("openai:http://x#m") == "openai:http://x#m"


def test_mujoco_report_names_reasoner_radius_and_vlnce_figures(tmp_path) -> None:
    scene = load_scene("flat_2room")
    ep = generate_episodes(scene, 1, 0, "dog")[0]
    # Stops 1.5 m short of the goal along the reference: a failure at our 1 m radius, a success at VLN-CE's 3 m.
    ref = np.asarray(ep.reference_path)
    d = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(ref, axis=0), axis=1))])
    keep = d <= d[-1] - 1.5
    end = np.array([np.interp(d[-1] - 1.5, d, ref[:, k]) for k in range(3)])
    xyz = np.vstack([ref[keep], end])
    summary = write_run_report(tmp_path, scene, [ep], [_result(ep.episode_id, xyz)], {"control_stats": []},
                               wall_time_s=5.0, options=_options("expert"))
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["run"]["success_radius_m"] == [1.0] and "upper bound" in rep["run"]["reasoner_label"]
    assert rep["aggregate"]["success"] == 0.0
    std = rep["vlnce_standard"]
    assert std["aggregate"]["success"] == 1.0 and std["success_distance_m"] == 3.0
    assert std["episodes"][0]["ne"] == pytest.approx(1.5, abs=0.1)  # geodesic on the nav map (free here)
    md = (tmp_path / "report.md").read_text()
    assert "Reasoner: **expert (privileged expert: plans on the true map" in md
    assert "## Aggregate (success radius 1 m" in md and "## VLN-CE standard figures (success < 3 m" in md
    assert summary.startswith("[expert] radius 1 m") and "VLN-CE 3 m: SR 1.00" in summary


def test_habitat_report_is_vlnce_only_and_says_how_distances_were_measured(tmp_path) -> None:
    path = write_r2r(tmp_path / "data", [r2r_record(1, start_y=3.0, goal=(4.0, 3.0, 0.0), geodesic=4.0)])
    clearance = load_robot_body("dog").ground_clearance
    ep = load_vlnce_episodes(path).episodes[0].to_episode("dog", clearance, scene=str(tmp_path / "A.glb"))
    # Our frame: from (0, 0) to (3.5, 0) on the upper floor, base_link at 3.0 + clearance.
    xyz = np.array([[x, 0.0, 3.0 + clearance] for x in (0.0, 1.0, 2.0, 3.0, 3.5)])
    habitat = {"scene": str(tmp_path / "A.glb"), "settings": "r2r_ce", "base_height": clearance, "gt_file": None}
    write_run_report(tmp_path, None, [ep], [_result("1", xyz)], {"control_stats": []}, wall_time_s=1.0,
                     options=_options("openai:http://gpu:8000"), habitat=habitat)
    rep = json.loads((tmp_path / "report.json").read_text())
    m = rep["vlnce_standard"]["episodes"][0]
    assert m["ne"] == pytest.approx(0.5) and m["success"] == 1.0 and m["path_length"] == pytest.approx(3.5)
    assert rep["run"]["distance"].startswith("3-D Euclidean") and rep["run"]["reasoner"] == "openai:http://gpu:8000"
    md = (tmp_path / "report.md").read_text()
    assert "Reasoner: **openai:http://gpu:8000**" in md and "3-D Euclidean" in md


def test_control_rate_sampling_does_not_drag_ndtw_down(tmp_path) -> None:
    # A robot that follows the reference exactly, recorded every 1 cm (the control rate): VLN-CE's agent would
    # record one position per 0.25 m step, so the standard nDTW must be ~1, not a sum over 100x more points.
    from r1_sim.benchmark_episodes import resample

    scene = load_scene("flat_2room")
    ep = generate_episodes(scene, 1, 0, "dog")[0]
    dense = resample(np.asarray(ep.reference_path), 0.01)
    write_run_report(tmp_path, scene, [ep], [_result(ep.episode_id, dense)], {"control_stats": []},
                     wall_time_s=1.0, options=_options("scripted:replies.txt"))
    std = json.loads((tmp_path / "report.json").read_text())["vlnce_standard"]["episodes"][0]
    assert std["ndtw"] > 0.97 and std["success"] == 1.0


def test_habitat_ground_truth_is_the_reference_as_is(tmp_path) -> None:
    from r1_core.nav.vlnce_metrics import vlnce_episode_metrics

    # VLN-CE's ground truth repeats a location for each turn; |R| counts them, so it must not be resampled.
    locs = [[0, 3, 0], [0, 3, 0], [1, 3, 0], [2, 3, 0], [2, 3, 0], [3, 3, 0], [4, 3, 0]]
    gt = {"1": {"locations": locs, "actions": [2, 1, 1, 3, 1, 1, 0], "forward_steps": 4}}
    path = write_r2r(tmp_path / "data", [r2r_record(1, start_y=3.0, goal=(4.0, 3.0, 0.0), geodesic=4.0)], gt=gt)
    clearance = load_robot_body("dog").ground_clearance
    ep = load_vlnce_episodes(path).episodes[0].to_episode("dog", clearance, scene=str(tmp_path / "A.glb"))
    assert ep.extra["vlnce"]["reference"] == "gt_locations"
    xyz = np.array([[x, 0.0, 3.0 + clearance] for x in np.arange(0.0, 3.01, 0.25)])  # already 0.25 m apart
    habitat = {"scene": str(tmp_path / "A.glb"), "settings": "r2r_ce", "base_height": clearance}
    write_run_report(tmp_path, None, [ep], [_result("1", xyz)], {"control_stats": []}, wall_time_s=1.0,
                     options=_options("openai:http://gpu:8000"), habitat=habitat)
    got = json.loads((tmp_path / "report.json").read_text())["vlnce_standard"]["episodes"][0]
    world_gt = np.array([[x, -z, y] for x, y, z in locs], dtype=float)
    want = vlnce_episode_metrics("1", xyz - [0, 0, clearance], True, [4.0, 0.0, 3.0], world_gt, 4.0)
    assert got["ndtw"] == pytest.approx(want.ndtw) and got["ne"] == pytest.approx(1.0)
