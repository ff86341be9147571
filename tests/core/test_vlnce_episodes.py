"""VLN-CE episode files read as released, the habitat frame conversion, and `nav-r1 episodes inspect`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from vlnce_files import r2r_record, write_json, write_r2r, yaw_quat_xyzw

from nav_r1.benchmark_cli import episodes_main
from r1_sim import habitat_frame as hf
from r1_sim.benchmark_episodes import load_benchmark_episodes, summarize
from r1_sim.episodes import Episode, EpisodeError, episode_from_dict, generate_episodes, save_episodes
from r1_sim.scene import load_scene
from r1_sim.vlnce import VlnceError, default_gt_path, load_vlnce_episodes, role_of


# -- frames ------------------------------------------------------------------------------------
def test_points_keep_heights_and_round_trip() -> None:
    p = np.array([[1.0, 3.2, -2.0], [0.5, 0.0, 4.0]])  # habitat: the first point on a floor 3.2 m up
    w = hf.habitat_to_world_points(p)
    np.testing.assert_allclose(w, [[1.0, 2.0, 3.2], [0.5, -4.0, 0.0]])
    np.testing.assert_allclose(hf.world_to_habitat_points(w), p)
    assert hf.habitat_to_world(p[0]) == (1.0, 2.0, 3.2)
    with pytest.raises(ValueError, match="3 coordinates"):
        hf.habitat_to_world_points([1.0, 2.0])


@pytest.mark.parametrize("theta", [0.0, 0.7, math.pi / 2, -2.5, math.pi])
def test_file_quaternion_gives_our_heading(theta: float) -> None:
    # A rotation by theta about habitat's +y turns forward (-z) to (-sin, 0, -cos): in our frame
    # (x, -z) = (-sin theta, cos theta), a heading of theta + pi/2.
    yaw = hf.habitat_quat_xyzw_to_yaw(yaw_quat_xyzw(theta))
    assert math.cos(yaw) == pytest.approx(-math.sin(theta), abs=1e-12)
    assert math.sin(yaw) == pytest.approx(math.cos(theta), abs=1e-12)
    back = hf.yaw_to_habitat_quat_xyzw(yaw)
    assert abs(float(np.dot(back, yaw_quat_xyzw(theta)))) == pytest.approx(1.0)  # same rotation (q or -q)
    # numpy-quaternion order (w, x, y, z) agrees with the file order.
    x, y, z, w = yaw_quat_xyzw(theta)
    assert hf.habitat_quat_to_yaw([w, x, y, z]) == pytest.approx(yaw)


def test_identity_rotation_faces_our_plus_y() -> None:
    # habitat's default agent faces -z, which is our +y (north): yaw pi/2.
    assert hf.habitat_quat_xyzw_to_yaw([0, 0, 0, 1]) == pytest.approx(math.pi / 2)
    with pytest.raises(ValueError, match="non-zero"):
        hf.habitat_quat_xyzw_to_yaw([0, 0, 0, 0])


# -- reading -------------------------------------------------------------------------------------
def test_r2r_file_with_ground_truth(tmp_path) -> None:
    gt = {"1": {"locations": [[0, 0, 0], [0.25, 0, 0], [0.5, 0, 0]], "actions": [1, 1, 0], "forward_steps": 2}}
    path = write_r2r(tmp_path, [r2r_record(1), r2r_record(2, start_y=3.0, goal=(2.0, 3.0, 1.0))], gt=gt)
    assert default_gt_path(path) == tmp_path / "val_unseen_gt.json.gz"
    ds = load_vlnce_episodes(path)
    assert [e.episode_id for e in ds.episodes] == ["1", "2"] and ds.vocab_size == 3
    a, b = ds.episodes
    assert a.trajectory_id == "101" and a.geodesic_distance == 4.0 and a.goal_radius == 3.0
    assert a.gt is not None and a.gt.forward_steps == 2 and a.gt.actions == (1, 1, 0)
    assert b.gt is None  # no ground truth for episode 2: reported by the summary, not invented
    # Episode 2 starts on the upper floor: our z is the habitat y, kept.
    ours = b.to_episode("dog", base_height=0.34, scene="/scenes/sceneA.glb")
    assert isinstance(ours, Episode)
    assert ours.start.z == pytest.approx(3.0 + 0.34)
    assert ours.start.yaw == pytest.approx(math.pi / 2)
    assert ours.goal_xy == (2.0, -1.0) and ours.extra["vlnce"]["goal_z"] == pytest.approx(3.0)
    assert ours.success_radius == 3.0 and ours.shortest_length == 4.0 and ours.scene == "/scenes/sceneA.glb"
    # The converted episode is a valid record of our own format (what the simulator bridge reads).
    again = episode_from_dict(ours.to_dict())
    assert again.start == ours.start


def test_rxr_role_file_with_language_and_plain_json(tmp_path) -> None:
    rec = r2r_record(5)
    rec["instruction"] = {"instruction_text": "चलो", "instruction_id": 77, "language": "hi-IN",
                          "annotator_id": "a1", "edit_distance": 0.1, "timed_instruction": [], "instruction_tokens": []}
    path = write_json(tmp_path / "val_seen_guide.json", {"episodes": [rec]})
    write_json(tmp_path / "val_seen_guide_gt.json", {"5": {"locations": [[0, 0, 0], [4, 0, 0]], "actions": [1, 0],
                                                           "forward_steps": 1}})
    assert role_of(path) == "guide" and role_of(tmp_path / "x_follower_gt.json.gz") == "follower"
    ds = load_vlnce_episodes(path)
    e = ds.episodes[0]
    assert ds.role == "guide" and ds.vocab_size is None and e.language == "hi-IN" and e.instruction_id == "77"
    assert e.gt is not None and len(e.gt.locations) == 2


@pytest.mark.parametrize(("patch", "field"), [
    ({"start_rotation": [0, 0, 0]}, "start_rotation"),
    ({"start_rotation": [0, 0.5, 0, 0.5]}, "start_rotation: must be a unit quaternion"),
    ({"start_position": [0, "up", 0]}, "start_position"),
    ({"goals": []}, "goals"),
    ({"goals": [{"position": [1, 2]}]}, r"goals\[0\]\.position"),
    ({"info": {"geodesic_distance": -1}}, r"info\.geodesic_distance"),
    ({"instruction": {"instruction_text": ""}}, r"instruction\.instruction_text"),
    ({"reference_path": [[0, 0, 0], [1, 1]]}, r"reference_path\[1\]"),
    ({"scene_id": None}, "scene_id"),
])
def test_bad_record_names_episode_and_field(tmp_path, patch, field) -> None:
    path = write_r2r(tmp_path, [r2r_record(1), {**r2r_record(42), **patch}])
    with pytest.raises(VlnceError, match=rf"episodes\[1\] \(episode_id 42\)\.{field}"):
        load_vlnce_episodes(path)


def test_bad_ground_truth_and_files(tmp_path) -> None:
    path = write_r2r(tmp_path, [r2r_record(1)], gt={"1": {"locations": [[0, 0]], "actions": []}})
    with pytest.raises(VlnceError, match=r"episode 1\.locations\[0\]"):
        load_vlnce_episodes(path)
    (tmp_path / "broken.json.gz").write_bytes(b"\x1f\x8b not gzip")
    with pytest.raises(VlnceError, match=r"broken\.json\.gz: not a readable gzip"):
        load_vlnce_episodes(tmp_path / "broken.json.gz")
    dup = write_r2r(tmp_path / "dup", [r2r_record(1), r2r_record(1)])
    with pytest.raises(VlnceError, match="duplicated"):
        load_vlnce_episodes(dup)


# -- either format: benchmark targets and `episodes inspect` --------------------------------------
def test_our_format_is_read_too(tmp_path) -> None:
    eps = generate_episodes(load_scene("flat_2room"), 2, 0, "dog")
    save_episodes(tmp_path / "ours.json", eps)
    b = load_benchmark_episodes(tmp_path / "ours.json")
    assert b.format == "r1_sim" and b.frame.startswith("REP-103")
    e = b.episodes[0]
    assert e.reference_kind == "reference_path_resampled"
    assert e.geodesic_distance == pytest.approx(eps[0].shortest_length, abs=1e-3)  # the file keeps 4 decimals
    steps = np.linalg.norm(np.diff(e.reference, axis=0), axis=1)
    assert np.all(steps <= 0.25 + 1e-9)  # resampled at VLN-CE's forward step
    np.testing.assert_allclose(e.goal, [*eps[0].goal_xy, eps[0].reference_path[-1, 2]], atol=1e-4)
    with pytest.raises(EpisodeError, match="--gt is for VLN-CE files"):
        load_benchmark_episodes(tmp_path / "ours.json", gt=tmp_path / "ours.json")


def test_inspect_summary_and_cli(tmp_path, capsys) -> None:
    gt = {"1": {"locations": [[0, 0, 0], [4, 0, 0]], "actions": [1, 0], "forward_steps": 1}}
    path = write_r2r(tmp_path, [r2r_record(1, geodesic=4.0), r2r_record(2, "mp3d/B/B.glb", geodesic=8.0)], gt=gt)
    s = summarize(path)
    assert s["format"] == "vlnce" and s["episodes"] == 2 and s["scenes"] == 2
    assert s["geodesic_distance_mean"] == pytest.approx(6.0) and s["languages"] == {"unknown": 2}
    assert s["references"] == {"gt_locations": 1, "reference_path": 1}
    assert s["instruction_words_range"] == [9, 9]
    assert episodes_main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "episodes            2" in out and "mean 6.00 m" in out and "instruction vocab   3 words" in out
    assert episodes_main(["inspect", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 2


def test_inspect_bad_file_is_one_line(tmp_path, capsys) -> None:
    path = write_r2r(tmp_path, [r2r_record(1), {**r2r_record(9), "start_position": [0, None, 0]}])
    assert episodes_main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "episode_id 9" in err and "start_position" in err
    (tmp_path / "other.json").write_text(json.dumps({"schema": "something/2", "episodes": []}))
    assert episodes_main(["inspect", str(tmp_path / "other.json")]) == 2
    assert "neither our episode format" in capsys.readouterr().err


def test_our_loader_points_vlnce_files_elsewhere(tmp_path) -> None:
    from r1_sim.episodes import load_episodes

    path = write_r2r(tmp_path, [r2r_record(1)])
    with pytest.raises(EpisodeError, match="this is a VLN-CE episode file"):
        load_episodes(path)
