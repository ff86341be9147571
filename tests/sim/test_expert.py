"""The sim expert: Nav-R1 format, grounded reasoning, stopping, Nav-CoT export, and closed loop."""

import json

import numpy as np
import pytest

from r1_core.nav.actions import NAV_R1_ACTION_SPACE, UAV_ACTION_SPACE
from r1_core.nav.metrics import evaluate_episode
from r1_core.nav.parse import parse_response
from r1_core.reasoner import Frame, Observation, Pose2D, Reasoner
from r1_sim.episodes import generate_episodes
from r1_sim.expert import ExpertReasoner, expert_for_episode
from r1_sim.navmap import NavMap
from r1_sim.robots import robot_profile
from r1_sim.rollout import run_episode
from r1_sim.scene import load_scene
from r1_sim.world import SimConfig, Simulator

FRAME = Frame(np.zeros((4, 4, 3), np.uint8))


@pytest.fixture(scope="module")
def setup():
    scene = load_scene("apartment_3room")
    nm = NavMap(scene, robot_profile("dog").radius)
    ep = generate_episodes(scene, 1, seed=2, robot="dog", navmap=nm)[0]
    return scene, nm, ep


def test_reply_format_vocabulary_and_grounding(setup):
    scene, nm, ep = setup
    expert = ExpertReasoner(scene, nm, ep)
    assert isinstance(expert, Reasoner)
    reply = expert.infer(Observation(ep.instruction, FRAME, pose=ep.start))
    assert reply.ok and reply.text.startswith("<think>") and reply.text.endswith("</action>")
    parsed = parse_response(reply.text)
    assert parsed.ok and 1 <= len(parsed.actions) <= 3
    assert all(a.to_text() in NAV_R1_ACTION_SPACE for a in parsed.actions)
    room = scene.room_at((ep.start.x, ep.start.y))
    assert f"I am in the {room.name}" in parsed.reasoning
    assert ep.goal_label in parsed.reasoning


def test_stops_at_goal_and_not_before(setup):
    scene, nm, ep = setup
    expert = ExpertReasoner(scene, nm, ep)
    at_goal = Pose2D(ep.goal_xy[0] + 0.1, ep.goal_xy[1], 0.3)
    parsed = parse_response(expert.infer(Observation(ep.instruction, FRAME, pose=at_goal)).text)
    assert [a.kind for a in parsed.actions] == ["stop"]
    parsed = parse_response(expert.infer(Observation(ep.instruction, FRAME, pose=ep.start)).text)
    assert "stop" not in [a.kind for a in parsed.actions]


def test_turns_towards_the_path(setup):
    scene, nm, ep = setup
    expert = ExpertReasoner(scene, nm, ep, actions_per_reply=1)
    path = nm.shortest_path((ep.start.x, ep.start.y), ep.goal_xy)
    heading = float(np.arctan2(path[1, 1] - path[0, 1], path[1, 0] - path[0, 0]))
    facing = Pose2D(ep.start.x, ep.start.y, heading)
    assert parse_response(expert.infer(Observation("", FRAME, pose=facing)).text).actions[0].kind == "forward"
    left_of = Pose2D(ep.start.x, ep.start.y, heading - 1.2)  # path is 69° to the left
    assert parse_response(expert.infer(Observation("", FRAME, pose=left_of)).text).actions[0].kind == "turn_left"


def test_uav_climbs_to_goal_altitude():
    scene = load_scene("flat_2room")
    ep = generate_episodes(scene, 1, seed=0, robot="uav")[0]
    expert = expert_for_episode(ep)
    assert expert.action_space == UAV_ACTION_SPACE
    low = Pose2D(ep.start.x, ep.start.y, 0.0, ep.goal_z - 0.6)
    parsed = parse_response(expert.infer(Observation("", FRAME, pose=low)).text)
    assert parsed.actions[0].kind == "up" and "climb" in parsed.reasoning


def test_missing_pose_is_a_failed_reply_not_an_exception(setup):
    scene, nm, ep = setup
    reply = ExpertReasoner(scene, nm, ep).infer(Observation("", FRAME))
    assert not reply.ok and "pose" in reply.error


def test_export_navcot(setup, tmp_path):
    scene, nm, ep = setup
    expert = ExpertReasoner(scene, nm, ep, record=True)
    frames = [Frame(np.full((8, 8, 3), k * 30, np.uint8)) for k in range(7)]
    for k in range(1, 7):
        expert.infer(Observation(ep.instruction, frames[k], tuple(frames[:k]), pose=ep.start))
    out = tmp_path / "navcot.jsonl"
    assert expert.export_navcot(out) == 6
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert set(rows[-1]) >= {"instruction", "history_images", "action_space", "target"}
    assert len(rows[0]["history_images"]) == 2 and len(rows[-1]["history_images"]) == 6  # 5 past + current
    assert rows[-1]["action_space"] == list(NAV_R1_ACTION_SPACE)
    assert parse_response(rows[-1]["target"]).ok
    assert all((tmp_path / p).is_file() for r in rows for p in r["history_images"])
    assert len(list((tmp_path / "images").iterdir())) == 7  # each frame written once


@pytest.mark.parametrize(("robot", "scene_name"), [("dog", "apartment_3room"), ("uav", "flat_2room")])
def test_closed_loop_reaches_goals_reproducibly(robot, scene_name):
    """Simulator + expert + parse_response + P controller: every seeded episode succeeds, twice alike."""
    scene = load_scene(scene_name)
    nm = NavMap(scene, robot_profile(robot).radius)
    sim = Simulator(robot, scene, SimConfig(width=32, height=24))
    runs = []
    for _ in range(2):
        metrics = []
        for ep in generate_episodes(scene, 2, seed=7, robot=robot, navmap=nm):
            result = run_episode(sim, ExpertReasoner(scene, nm, ep), ep, max_time=90.0)
            dims = 3 if ep.goal_z is not None else 2
            m = evaluate_episode(ep.episode_id, result.path[:, :dims], ep.reference_path[:, :dims], ep.goal_point,
                                 ep.shortest_length, result.stopped, threshold=ep.success_radius,
                                 collisions=result.collisions, episode_time=result.time)
            assert result.stopped and result.parse_failures == 0
            assert m.success == 1.0 and m.ne < 0.5 and m.ndtw > 0.8 and m.collisions == 0, m
            metrics.append(m)
        runs.append(metrics)
    assert runs[0] == runs[1]
    sim.close()


def test_data_engine_with_rendered_frames(tmp_path):
    """A rendered rollout recorded by the expert exports Nav-CoT rows whose images are the camera's."""
    scene = load_scene("flat_2room")
    nm = NavMap(scene, robot_profile("wheeled").radius)
    ep = generate_episodes(scene, 1, seed=1, robot="wheeled", navmap=nm)[0]
    sim = Simulator("wheeled", scene, SimConfig(width=32, height=24))
    expert = ExpertReasoner(scene, nm, ep, record=True)
    result = run_episode(sim, expert, ep, render=True)
    sim.close()
    assert result.stopped
    rows = expert.export_navcot(tmp_path / "navcot.jsonl")
    assert rows == result.replies
    import cv2

    last = json.loads((tmp_path / "navcot.jsonl").read_text().splitlines()[-1])
    img = cv2.imread(str(tmp_path / last["history_images"][-1]))
    assert img.shape == (24, 32, 3) and img.std() > 0  # a real render, not a blank frame
    assert last["target"].endswith("<action>stop</action>")
