"""Procedural scenes and the navigation map."""

import json
import math

import numpy as np
import pytest

from r1_sim.navmap import NavMap
from r1_sim.robots import PROFILES
from r1_sim.scene import NAMED_SCENES, Box, Scene, SceneError, generate_scene, load_scene


def test_same_seed_same_scene_and_different_seed_differs():
    assert generate_scene(4, 4).to_json() == generate_scene(4, 4).to_json()
    assert generate_scene(4, 4).to_json() != generate_scene(5, 4).to_json()


def test_json_round_trip():
    s = generate_scene(2, 3)
    assert Scene.from_json(s.to_json()) == Scene.from_json(Scene.from_json(s.to_json()).to_json())
    back = Scene.from_json(s.to_json())
    assert [o.label for o in back.objects] == [o.label for o in s.objects]
    assert back.walls == s.walls and back.doors == s.doors


@pytest.mark.parametrize("name", list(NAMED_SCENES))
def test_named_scenes_are_connected_for_every_robot(name):
    scene = load_scene(name)
    assert len({r.name for r in scene.rooms}) == len(scene.rooms)  # room names are unique
    assert len(scene.doors) >= len(scene.rooms) - 1
    labels = {o.label for o in scene.objects}
    assert labels, "a scene needs labelled furniture"
    for profile in PROFILES.values():
        nm = NavMap(scene, profile.radius, resolution=0.1)
        centres = [nm.nearest_free(r.center) for r in scene.rooms]
        for c in centres[1:]:
            assert math.isfinite(nm.grid_distance(centres[0], c)), (name, profile.name)


def test_furniture_stays_inside_its_room_and_off_doors():
    for seed in range(6):
        scene = generate_scene(seed, 4)
        for o in scene.objects:
            room = scene.room(o.room)
            x0, y0, x1, y1 = o.box.footprint()
            assert room.xmin < x0 and x1 < room.xmax and room.ymin < y0 and y1 < room.ymax
            assert all(o.box.distance_xy(d.center) >= 1.5 for d in scene.doors)


def test_unknown_scene_lists_valid_names():
    with pytest.raises(SceneError, match="apartment_4room") as err:
        load_scene("apartment_4rooms")
    assert "did you mean 'apartment_4room'" in str(err.value)


def test_scene_file_round_trip_and_bad_file(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(generate_scene(1, 2).to_json())
    assert load_scene(path).seed == 1
    data = json.loads(path.read_text())
    del data["walls"]
    path.write_text(json.dumps(data))
    with pytest.raises(SceneError, match="walls"):
        load_scene(path)
    data = json.loads(generate_scene(1, 2).to_json())
    data["objects"][0]["box"]["size"] = [1, 2]
    path.write_text(json.dumps(data))
    with pytest.raises(SceneError, match=r"objects\[0\].box.size"):
        load_scene(path)
    with pytest.raises(SceneError, match="n_rooms"):
        generate_scene(0, 12)


def _corridor():
    """One 6 m x 3 m room with a 2 m wide box in the middle of it."""
    from r1_sim.scene import WALL_HEIGHT, WALL_THICKNESS, Room, SceneObject

    t, h = WALL_THICKNESS, WALL_HEIGHT
    walls = (Box((3, 0, h / 2), (6, t, h)), Box((3, 3, h / 2), (6, t, h)),
             Box((0, 1.5, h / 2), (t, 3, h)), Box((6, 1.5, h / 2), (t, 3, h)))
    block = SceneObject("b", "table", "office", Box((3.0, 1.0, 0.4), (1.0, 2.0, 0.8)), (1, 0, 0, 1))
    return Scene("corridor", 0, (Room("office", 0, 0, 6, 3),), (), walls, (block,))


def test_navmap_geodesics_by_hand():
    nm = NavMap(_corridor(), robot_radius=0.3, resolution=0.05)
    assert not nm.is_free((3.0, 1.0))  # inside the table
    assert not nm.is_free((3.0, 2.1))  # within the radius of the table's top edge (y = 2.0)
    assert nm.is_free((1.0, 2.5)) and not nm.is_free((1.0, 2.9))  # near the wall at y = 3
    # In the open: the taut path is the straight segment.
    assert nm.geodesic_distance((1.0, 2.5), (5.0, 2.5)) == pytest.approx(4.0, abs=0.06)
    # Around the table: from (1.5, 1) to (4.5, 1) the path must pass above y = 2.3 (2 + radius).
    path = nm.shortest_path((1.5, 1.0), (4.5, 1.0))
    assert path[:, 1].max() > 2.25
    over = 2 * math.hypot(1.0, 1.3) + 1.0  # up to (2.5, 2.3), across to (3.5, 2.3), down
    assert nm.geodesic_distance((1.5, 1.0), (4.5, 1.0)) == pytest.approx(over, rel=0.06)
    assert np.all([nm.is_free(p) for p in path])


def test_navmap_unreachable_is_infinite():
    scene = _corridor()
    from r1_sim.scene import SceneObject

    wall = SceneObject("w", "bookshelf", "office", Box((3.0, 1.5, 1.0), (0.4, 3.0, 2.0)), (0, 0, 0, 1))
    closed = Scene("closed", 0, scene.rooms, (), scene.walls, (wall,))
    nm = NavMap(closed, robot_radius=0.3, resolution=0.1)
    assert nm.geodesic_distance((1.0, 1.5), (5.0, 1.5)) == math.inf
    with pytest.raises(ValueError, match="no free path"):
        nm.shortest_path((1.0, 1.5), (5.0, 1.5))
