"""`nav-r1 evaluate-paths`: any agent's trajectories scored with VLN-CE's measures, checked by hand."""

from __future__ import annotations

import json
import math

import pytest
from vlnce_files import r2r_record, write_r2r

from nav_r1.benchmark_cli import evaluate_paths_main
from nav_r1.cli import main as cli_main
from r1_sim.episodes import generate_episodes, save_episodes
from r1_sim.scene import load_scene

GT = {
    "1": {"locations": [[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0], [4, 0, 0]], "actions": [1, 1, 1, 1, 0],
          "forward_steps": 4},
    "2": {"locations": [[0, 3, 0], [0, 3, -4]], "actions": [1, 0], "forward_steps": 1},
    "3": {"locations": [[0, 0, 0], [4, 0, 0]], "actions": [1, 0], "forward_steps": 1},
}


def _files(tmp_path):
    eps = [r2r_record(1, goal=(4.0, 0.0, 0.0), geodesic=4.0),
           r2r_record(2, start_y=3.0, goal=(0.0, 3.0, -4.0), geodesic=5.0),
           r2r_record(3, goal=(4.0, 0.0, 0.0), geodesic=4.0)]
    ep_file = write_r2r(tmp_path / "data", eps, gt=GT)
    paths = {
        # Episode 1: along the ground truth to x = 3 (1 m short), stopped: success.
        "1": {"positions": [[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]], "stopped": True},
        # Episode 2 (upper floor, y = 3): walked the wrong way 2 m, then stopped: failure.
        "2": {"positions": [[0, 3, 0], [0, 3, 2]], "stopped": True, "steps": 9},
        # Episode 3 is missing; "99" is not an episode of the file.
        "99": {"positions": [[0, 0, 0]], "stopped": False},
    }
    paths_file = tmp_path / "paths.json"
    paths_file.write_text(json.dumps(paths))
    return ep_file, paths_file


def test_report_matches_hand_computed_metrics(tmp_path, capsys) -> None:
    ep_file, paths_file = _files(tmp_path)
    out = tmp_path / "report"
    rc = evaluate_paths_main(["--episodes", str(ep_file), "--paths", str(paths_file), "--out", str(out),
                              "--agent", "NaVid (their released trajectories)"])
    assert rc == 0
    rep = json.loads((out / "report.json").read_text())
    e1, e2 = rep["episodes"]["1"], rep["episodes"]["2"]
    # Episode 1 by hand: NE 1, success, SPL 4/max(4, 3) = 1, path 3; DTW: 4 exact matches + (4,0,0)~(3,0,0) = 1.
    assert e1["ne"] == pytest.approx(1.0) and e1["success"] == 1.0 and e1["oracle_success"] == 1.0
    assert e1["spl"] == pytest.approx(1.0) and e1["path_length"] == pytest.approx(3.0)
    assert e1["ndtw"] == pytest.approx(math.exp(-1.0 / (5 * 3.0))) and e1["sdtw"] == pytest.approx(e1["ndtw"])
    assert e1["steps"] == 3 + 1
    # Episode 2 by hand: end (0,3,2), goal (0,3,-4): NE 6; closest 4 at the start -> no oracle success.
    # DTW of Q = [(0,3,0), (0,3,2)] against R = [(0,3,0), (0,3,-4)]: the match (0,0) costs 0 and every
    # warping ends with the pair (1,1), 6 m apart; detours through (0,1) or (1,0) only add cost: DTW = 6.
    assert e2["ne"] == pytest.approx(6.0) and e2["success"] == 0.0 and e2["oracle_success"] == 0.0
    assert e2["spl"] == 0.0 and e2["sdtw"] == 0.0 and e2["steps"] == 9
    assert e2["ndtw"] == pytest.approx(math.exp(-6.0 / (2 * 3.0)))
    # Missing and unknown episodes are reported, and the means cover the scored ones only.
    assert rep["missing"] == ["3"] and rep["unknown"] == ["99"]
    agg = rep["aggregate"]
    assert agg["episodes"] == 2 and agg["missing"] == 1
    assert agg["success"] == pytest.approx(0.5) and agg["ne"] == pytest.approx(3.5)
    assert set(agg) >= {"ne", "success", "oracle_success", "spl", "ndtw", "sdtw", "path_length"}
    run = rep["run"]
    assert run["distance"].startswith("3-D Euclidean") and "ne < 3.0 m" in run["success"]
    assert "gt_locations" in run["ndtw"] and run["gt_file"].endswith("val_unseen_gt.json.gz")
    md = (out / "report.md").read_text()
    assert "NaVid (their released trajectories)" in md and "1 missing from the paths file" in md and "`3`" in md
    assert "no path" in capsys.readouterr().err


def test_bad_paths_file_is_one_clear_line(tmp_path, capsys) -> None:
    ep_file, _ = _files(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"1": {"positions": [[0, 0, 0]], "stopped": "no"}}))
    assert evaluate_paths_main(["--episodes", str(ep_file), "--paths", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "episode 1.stopped" in err
    assert not (tmp_path / "o").exists()


def test_our_format_through_the_cli_dispatch(tmp_path) -> None:
    ep = generate_episodes(load_scene("flat_2room"), 1, 0, "dog")[0]
    save_episodes(tmp_path / "ours.json", [ep])
    ref = ep.reference_path.tolist()
    (tmp_path / "paths.json").write_text(json.dumps({ep.episode_id: {"positions": ref, "stopped": True}}))
    rc = cli_main(["evaluate-paths", "--episodes", str(tmp_path / "ours.json"), "--paths", str(tmp_path / "paths.json"),
                   "--out", str(tmp_path / "r")])
    assert rc == 0
    m = json.loads((tmp_path / "r" / "report.json").read_text())["episodes"][ep.episode_id]
    # Following the reference exactly: at the goal, SPL 1 (the path is the shortest one), nDTW close to 1
    # (the reference is resampled at 0.25 m, the path is its corners: only the resampled points cost).
    assert m["ne"] == pytest.approx(0.0, abs=1e-3) and m["success"] == 1.0
    assert m["spl"] == pytest.approx(1.0, abs=1e-3) and 0.8 < m["ndtw"] <= 1.0
