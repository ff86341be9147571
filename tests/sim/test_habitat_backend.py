"""Habitat backend: every part that does not need habitat-sim (which cannot be installed here), and the
simulator itself against a fake ``habitat_sim`` implementing the API surface it uses (tests/fake_habitat.py).
"""

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import fake_habitat
import numpy as np
import pytest
from vlnce_files import r2r_record, write_r2r

from r1_core.reasoner import Pose2D
from r1_sim import habitat_backend as hb
from r1_sim import habitat_frame as hf
from r1_sim.episodes import load_episodes
from r1_sim.robots import load_robot_body
from r1_sim.world import SimConfig, make_simulator


@pytest.mark.parametrize("yaw", [0.0, 0.5, math.pi / 2, -2.0, 3.0])
def test_yaw_round_trip_and_forward_direction(yaw):
    q = hf.yaw_to_habitat_quat(yaw)
    assert hf.habitat_quat_to_yaw(q) == pytest.approx(yaw)
    # Rotate habitat's local forward (-z) by q and map it back: it must point along our yaw.
    w, x, y, z = q
    rot = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                    [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                    [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])
    fwd = hf.habitat_to_world(rot @ np.array([0.0, 0.0, -1.0]))
    assert fwd[0] == pytest.approx(math.cos(yaw)) and fwd[1] == pytest.approx(math.sin(yaw))


def test_point_and_velocity_conversions():
    p = hf.world_to_habitat(1.0, 2.0, 3.0)
    np.testing.assert_allclose(p, [1.0, 3.0, -2.0])
    assert hf.habitat_to_world(p) == (1.0, 2.0, 3.0)
    lin, ang = hf.body_twist_to_habitat(0.5, 0.2, 0.1, 0.3)
    np.testing.assert_allclose(lin, [-0.2, 0.1, -0.5])  # forward is local -z, left is -x
    np.testing.assert_allclose(ang, [0.0, 0.3, 0.0])  # a left turn is +y (y up)
    np.testing.assert_allclose(hf.body_to_habitat_local(np.array([0.3, 0.05, 0.04])), [-0.05, 0.04, -0.3])


def test_intrinsics_match_the_mujoco_convention():
    hfov = hb.hfov_from_vfov(60.0, 320, 240)
    k = hb.intrinsics_from_hfov(320, 240, hfov)
    assert k[1, 1] == pytest.approx(120 / math.tan(math.radians(30)))  # same camera as fovy 60
    assert k[0, 0] == pytest.approx(k[1, 1]) and k[0, 2] == 159.5 and k[1, 2] == 119.5


@pytest.mark.skipif(importlib.util.find_spec("habitat_sim") is not None, reason="habitat-sim is installed")
def test_missing_habitat_sim_gives_install_instructions():
    with pytest.raises(ImportError, match="conda install habitat-sim"):
        hb.HabitatSimulator("dog", "/nowhere/scene.glb", SimConfig())
    with pytest.raises(ImportError, match="backend 'mujoco'"):
        make_simulator("habitat", "dog", habitat_scene="/nowhere/scene.glb")
    with pytest.raises(ValueError, match="needs habitat_scene"):
        make_simulator("habitat", "dog")


# -- against the fake habitat_sim --------------------------------------------------------------------
@pytest.fixture
def fake_hs(monkeypatch):
    mods = fake_habitat.modules()
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)
    return mods["habitat_sim"]


def test_vlnce_settings_are_the_task_configs():
    r2r, rxr = hb.VLNCE_SETTINGS["r2r_ce"], hb.VLNCE_SETTINGS["rxr_ce"]
    assert (r2r.width, r2r.height, r2r.hfov_deg, r2r.camera_height_m) == (224, 224, 90.0, 1.25)
    assert (r2r.forward_step_m, r2r.turn_angle_deg, r2r.max_episode_steps, r2r.allow_sliding) == (0.25, 15.0, 500, True)
    assert (rxr.width, rxr.height, rxr.hfov_deg) == (640, 480, 79.0)
    assert (rxr.camera_height_m, rxr.agent_height_m, rxr.agent_radius_m) == (0.88, 0.88, 0.18)
    assert rxr.turn_angle_deg == 30.0 and not rxr.allow_sliding and (rxr.depth_min_m, rxr.depth_max_m) == (0.5, 5.0)
    with pytest.raises(ValueError, match="hfov_deg"):
        hb.HabitatSettings("x", 10, 10, 190.0, 1.0, 1.0, 0.1, 0.25, 15.0, 10, True, 0.0, 5.0)


def test_simulator_uses_vlnce_agent_and_sensors(fake_hs):
    sim = hb.HabitatSimulator("dog", "/scenes/A.glb", SimConfig())
    cfg = sim.sim.config
    agent = cfg.agents[0]
    assert cfg.sim_cfg.scene_id == "/scenes/A.glb" and cfg.sim_cfg.allow_sliding is True
    assert (agent.height, agent.radius) == (1.5, 0.1)
    amounts = {k: v.args[1].amount for k, v in agent.action_space.items()}
    assert amounts == {"move_forward": 0.25, "turn_left": 15.0, "turn_right": 15.0}
    color = next(s for s in agent.sensor_specifications if s.uuid == "color")
    right = next(s for s in agent.sensor_specifications if s.uuid == "right")
    assert color.resolution == [224, 224] and color.hfov == 90.0 and color.position == [0.0, 1.25, 0.0]
    assert right.position[0] == pytest.approx(sim.stereo_baseline_m) and right.position[1] == 1.25
    # The bridge publishes what the simulator renders: VLN-CE's size and field of view.
    assert (sim.config.width, sim.config.height) == (224, 224) and sim.config.fovy_deg == pytest.approx(90.0)
    k = sim.camera_intrinsics()
    assert k[0, 0] == pytest.approx(112.0)  # 224 px over a 90 deg HFOV
    # base_T_camera: the camera 1.25 m above the floor, i.e. above base_link by 1.25 - ground clearance.
    ext = sim.camera_extrinsics()
    assert ext[2, 3] == pytest.approx(1.25 - load_robot_body("dog").ground_clearance)
    np.testing.assert_allclose(ext[:3, 2], [1, 0, 0])  # optical z looks forward
    assert sim.camera_extrinsics(right=True)[1, 3] == pytest.approx(-sim.stereo_baseline_m)
    rgb, depth = sim.render_rgbd()
    assert rgb.shape == (224, 224, 3) and depth.shape == (224, 224)
    rxr = hb.HabitatSimulator("dog", "/scenes/A.glb", SimConfig(), settings="rxr_ce")
    assert rxr.sim.config.agents[0].radius == 0.18 and rxr.config.width == 640
    with pytest.raises(ValueError, match="unknown habitat settings"):
        hb.HabitatSimulator("dog", "/scenes/A.glb", settings="r2r")


def test_start_on_the_episodes_floor(fake_hs):
    sim = hb.HabitatSimulator("dog", "/scenes/A.glb")
    clearance = load_robot_body("dog").ground_clearance
    # The start is on the upper floor (habitat y = 3.0): base_link at 3.0 + clearance in our frame.
    sim.reset(Pose2D(1.0, 2.0, 0.3, 3.0 + clearance))
    query = sim.sim.pathfinder.snap_queries[-1]
    assert query == pytest.approx((1.0, 3.0, -2.0))  # snapped at the floor's own height, not at 0
    p = sim.pose()
    assert (p.x, p.y, p.z, p.yaw) == pytest.approx((1.0, 2.0, 3.0 + clearance, 0.3))
    sim.reset(Pose2D(1.0, 2.0, 0.3, clearance))
    assert sim.pose().z == pytest.approx(clearance)


def test_velocity_steps_move_along_our_heading(fake_hs):
    sim = hb.HabitatSimulator("dog", "/scenes/A.glb")
    sim.reset(Pose2D(0.0, 0.0, math.pi / 2, 3.0 + load_robot_body("dog").ground_clearance))  # facing +y
    for _ in range(40):
        sim.apply_command(0.4, 0.0, 0.0, 0.0)
        sim.step(0.05)
    p = sim.pose()
    assert p.y > 0.3 and abs(p.x) < 1e-6 and p.yaw == pytest.approx(math.pi / 2)
    sim.reset(Pose2D(4.5, 0.0, 0.0, load_robot_body("dog").ground_clearance))  # facing +x, the wall at x = 5
    for _ in range(60):
        sim.apply_command(0.5, 0.0, 0.0, 0.0)
        sim.step(0.05)
    assert sim.pose().x == pytest.approx(5.0) and sim.collisions > 0
    assert sim.step_discrete("turn_left") is False and sim.agent.acted == ["turn_left"]
    with pytest.raises(ValueError, match="unknown discrete action"):
        sim.step_discrete("fly")


def test_navmesh_geodesic(fake_hs, tmp_path):
    geo = hb.navmesh_geodesic(str(tmp_path / "A.navmesh"))
    assert geo(np.array([3.0, 0.0, 4.0]), np.array([0.0, 0.0, 0.0])) == pytest.approx(5.0)
    assert geo(np.array([3.0, 0.0, 4.0]), np.array([0.0, 3.0, 0.0])) == pytest.approx(5.0 + 3.0)  # by the stairs
    assert geo(np.array([9.0, 0.0, 0.0]), np.array([0.0, 0.0, 0.0])) == math.inf
    with pytest.raises(ValueError, match="could not load"):
        hb.navmesh_geodesic(str(tmp_path / "A.glb"))


# -- nav-r1 sim --backend habitat ---------------------------------------------------------------------
def _habitat_files(tmp_path: Path) -> tuple[Path, Path]:
    scene = tmp_path / "scenes" / "sceneA" / "sceneA.glb"
    scene.parent.mkdir(parents=True)
    scene.write_bytes(b"glTF")
    eps = [r2r_record(1, "mp3d/sceneA/sceneA.glb", start_y=3.0, goal=(2.0, 3.0, -1.0), geodesic=2.3),
           r2r_record(2, "mp3d/sceneB/sceneB.glb"), r2r_record(3, "mp3d/sceneA/sceneA.glb")]
    return scene, write_r2r(tmp_path / "data", eps)


def test_sim_arguments_for_habitat(tmp_path):
    from nav_r1.mainjob import MainJobError, parse_main_job_args

    scene, episodes = _habitat_files(tmp_path)
    base = ["--backend", "habitat", "--out", str(tmp_path / "run"), "--reasoner", "openai:http://localhost:1"]
    opts = parse_main_job_args([*base, "--scene", str(scene), "--episodes-file", str(episodes)])
    assert opts.backend == "habitat" and opts.habitat_settings == "auto"
    for extra, match in (([], "needs --scene"), (["--scene", str(tmp_path / "no.glb")], "does not exist"),
                         (["--scene", str(scene)], "needs --episodes-file")):
        with pytest.raises(MainJobError, match=match):
            parse_main_job_args([*base, *extra])
    with pytest.raises(MainJobError, match="privileged expert"):
        parse_main_job_args([*base, "--scene", str(scene), "--episodes-file", str(episodes), "--reasoner", "expert"])
    with pytest.raises(MainJobError, match="ground agents"):
        parse_main_job_args([*base, "--scene", str(scene), "--episodes-file", str(episodes), "--robot", "uav"])


def test_habitat_episodes_keep_the_start_floor(tmp_path):
    from nav_r1.habitat_job import HabitatJobError, prepare_habitat_episodes

    scene, episodes = _habitat_files(tmp_path)
    opts = SimpleNamespace(scene=str(scene), episodes_file=episodes, robot="dog", episodes=10,
                           habitat_settings="auto")
    none, eps, habitat = prepare_habitat_episodes(opts, tmp_path)
    assert none is None and [e.episode_id for e in eps] == ["1", "3"]  # only scene A's
    assert habitat["settings"] == "r2r_ce" and habitat["scene"] == str(scene.resolve())
    saved = load_episodes(tmp_path / "episodes.json", check_scenes=False)  # what the bridge reads
    clearance = load_robot_body("dog").ground_clearance
    assert saved[0].start.z == pytest.approx(3.0 + clearance) and saved[0].scene == str(scene.resolve())
    assert saved[0].goal_xy == pytest.approx((2.0, 1.0)) and saved[0].success_radius == 3.0
    assert json.loads((tmp_path / "episodes.json").read_text())["episodes"][0]["extra"]["vlnce"]["goal_z"] == 3.0
    opts.scene = str(tmp_path / "other.glb")
    with pytest.raises(HabitatJobError, match=r"no episode .* is in scene 'other'"):
        prepare_habitat_episodes(opts, tmp_path)


def test_launch_argument_reaches_the_bridge():
    from nav_r1.graph import build_graph

    specs = build_graph({"use_sim": "true", "sim_backend": "habitat", "habitat_scene": "/s/A.glb",
                         "reasoner": "openai:http://x", "depth": "none"})
    sim = next(s for s in specs if s.role == "sim")
    assert sim.parameters["backend"] == "habitat" and sim.parameters["habitat_scene"] == "/s/A.glb"


def test_evaluate_paths_with_a_navmesh(fake_hs, tmp_path):
    from nav_r1.benchmark_cli import evaluate_paths_main

    # The agent ends at (1, 0, 0) on the ground floor; the goal (0, 3, 0) is on the upper floor. 3-D Euclidean
    # says 3.16 m (a success); the fake mesh's geodesic goes by the stairs at x = 0: 1 + 3 = 4 m (a failure).
    gt = {"1": {"locations": [[0, 0, 0], [0, 3, 0]], "actions": [1, 0], "forward_steps": 1}}
    ep_file = write_r2r(tmp_path, [r2r_record(1, goal=(0.0, 3.0, 0.0), geodesic=3.0)], gt=gt)
    (tmp_path / "paths.json").write_text(json.dumps({"1": {"positions": [[0, 0, 0], [1, 0, 0]], "stopped": True}}))
    out = tmp_path / "r"
    rc = evaluate_paths_main(["--episodes", str(ep_file), "--paths", str(tmp_path / "paths.json"), "--out", str(out),
                              "--navmesh", str(tmp_path / "A.navmesh")])
    assert rc == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["episodes"]["1"]["ne"] == pytest.approx(1.0 + 3.0) and rep["episodes"]["1"]["success"] == 0.0
    assert rep["run"]["distance"].startswith("geodesic on the navigation mesh")
    assert evaluate_paths_main(["--episodes", str(ep_file), "--paths", str(tmp_path / "paths.json"), "--out",
                                str(tmp_path / "r2"), "--navmesh", str(tmp_path / "A.glb")]) == 2


@pytest.mark.skipif(importlib.util.find_spec("habitat_sim") is not None, reason="habitat-sim is installed")
def test_habitat_run_without_habitat_sim_fails_before_starting(tmp_path):
    from nav_r1.mainjob import MainJobError, parse_main_job_args, run_main_job

    scene, episodes = _habitat_files(tmp_path)
    opts = parse_main_job_args(["--backend", "habitat", "--scene", str(scene), "--episodes-file", str(episodes),
                                "--reasoner", "openai:http://localhost:1", "--out", str(tmp_path / "run")])
    with pytest.raises(MainJobError, match="conda install habitat-sim"):
        run_main_job(opts)
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()
