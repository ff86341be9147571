"""Episodes: generation, JSON schema, and clear errors on bad files."""

import json

import numpy as np
import pytest

from r1_sim.episodes import SCHEMA, EpisodeError, generate_episodes, load_episodes, save_episodes
from r1_sim.navmap import NavMap
from r1_sim.robots import robot_profile
from r1_sim.scene import load_scene


@pytest.fixture(scope="module")
def scene():
    return load_scene("apartment_4room")


@pytest.mark.parametrize("robot", ["dog", "uav", "wheeled"])
def test_generated_episodes_are_valid_and_reproducible(scene, robot):
    eps = generate_episodes(scene, 6, seed=3, robot=robot)
    again = generate_episodes(scene, 6, seed=3, robot=robot)
    assert [e.to_dict() for e in eps] == [e.to_dict() for e in again]
    nm = NavMap(scene, robot_profile(robot).radius)
    for e in eps:
        assert 3.0 <= e.shortest_length <= 10.5
        assert e.reference_path.shape[1] == 3
        np.testing.assert_allclose(e.reference_path[0, :2], [e.start.x, e.start.y])
        np.testing.assert_allclose(e.reference_path[-1, :2], e.goal_xy)
        assert all(nm.is_free(p[:2]) for p in e.reference_path)
        assert e.goal_label in e.instruction  # the instruction names its goal object
        obj = next(o for o in scene.objects if o.object_id == e.goal_object)
        assert obj.box.distance_xy(e.goal_xy) < nm.robot_radius + 0.45
        if robot == "uav":
            assert e.goal_z is not None and f"{e.goal_z:.2f} m" in e.instruction
        else:
            assert e.goal_z is None
    assert len({e.episode_id for e in eps}) == len(eps)
    assert [e.to_dict() for e in generate_episodes(scene, 6, seed=4, robot=robot)] != [e.to_dict() for e in eps]


def test_save_load_round_trip(scene, tmp_path):
    eps = generate_episodes(scene, 3, seed=1, robot="uav")
    path = tmp_path / "eps.json"
    save_episodes(path, eps)
    back = load_episodes(path)
    assert [e.to_dict() for e in back] == [e.to_dict() for e in eps]
    assert back[0].scene_obj().to_json() == scene.to_json()


def _write(tmp_path, mutate):
    eps = generate_episodes(load_scene("flat_2room"), 2, seed=0, robot="dog")
    data = {"schema": SCHEMA, "episodes": [e.to_dict() for e in eps]}
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["episodes"][1].pop("instruction"), r"episodes\[1\]\.instruction: must be a non-empty string"),
        (lambda d: d["episodes"][0].update(robot="hexapod"), r"episodes\[0\]\.robot: unknown robot 'hexapod'"),
        (lambda d: d["episodes"][0]["start"].update(yaw="north"), r"episodes\[0\]\.start\.yaw: must be a finite"),
        (lambda d: d["episodes"][0].update(goal_xy=[1.0]), r"episodes\[0\]\.goal_xy"),
        (lambda d: d["episodes"][0].update(reference_path=[[0, 0, 0]]), r"episodes\[0\]\.reference_path"),
        (lambda d: d["episodes"][0].update(success_radius=-1), r"episodes\[0\]\.success_radius: must be > 0"),
        (lambda d: d["episodes"][0].update(scene="castle"), r"episodes\[0\]\.scene: unknown scene 'castle'"),
        (lambda d: d["episodes"][1].update(episode_id=d["episodes"][0]["episode_id"]), "episode_id: duplicated"),
        (lambda d: d.update(schema="other/2"), "schema: expected 'r1_sim.episodes/1'"),
        (lambda d: d["episodes"][0].update(robot="uav"), r"episodes\[0\]\.goal_z: required"),
    ],
)
def test_bad_episode_files_name_the_field(tmp_path, mutate, message):
    with pytest.raises(EpisodeError, match=message):
        load_episodes(_write(tmp_path, mutate))


def test_unreadable_files(tmp_path):
    with pytest.raises(EpisodeError, match="cannot read"):
        load_episodes(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(EpisodeError, match="not valid JSON"):
        load_episodes(tmp_path / "x.json")
