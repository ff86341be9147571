"""Top-down plots and run reports."""

import json

import numpy as np

from r1_core.nav.metrics import evaluate_episode
from r1_core.nav.vlnce_metrics import vlnce_episode_metrics
from r1_sim.navmap import NavMap
from r1_sim.report import top_down_plot, write_report
from r1_sim.scene import load_scene


def test_plot_and_report(tmp_path):
    scene = load_scene("flat_2room")
    nm = NavMap(scene, 0.35, resolution=0.1)
    ref = nm.shortest_path(nm.nearest_free(scene.rooms[0].center), nm.nearest_free(scene.rooms[1].center))
    actual = ref + np.array([0.05, -0.05])
    png = top_down_plot(scene, nm, ref, actual, tmp_path / "plots" / "ep1.png", goal=ref[-1], success_radius=1.0,
                        title="walk to the hallway")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    m1 = evaluate_episode("ep1", actual, ref, ref[-1], 3.0, True, threshold=1.0, collisions=1, episode_time=12.0)
    m2 = evaluate_episode("ep2", ref[:1], ref, ref[-1], 3.0, True, threshold=1.0)
    ref3 = np.column_stack([ref, np.zeros(len(ref))])
    act3 = np.column_stack([actual, np.zeros(len(actual))])
    v1 = vlnce_episode_metrics("ep1", act3, True, ref3[-1], ref3, 3.0)
    v2 = vlnce_episode_metrics("ep2", ref3[:1], True, ref3[-1], ref3, 3.0)
    md, js = write_report(tmp_path, [m1, m2], {"robot": "dog", "seed": 3}, reasoner="openai:http://gpu:8000",
                          success_radius=1.0, vlnce=[v1, v2])
    data = json.loads(js.read_text())
    assert data["aggregate"]["success"] == 0.5 and data["robot"] == "dog" and len(data["episodes"]) == 2
    assert data["reasoner"] == "openai:http://gpu:8000" and data["success_radius_m"] == 1.0
    assert data["vlnce_standard"]["aggregate"]["episodes"] == 2 and data["vlnce_standard"]["success_distance_m"] == 3.0
    text = md.read_text()
    assert "Reasoner: **openai:http://gpu:8000**" in text and "1 m" in text and "## VLN-CE standard" in text
    assert "| ep1 |" in text and "[plot](plots/ep1.png)" in text and "| robot | dog |" in text
