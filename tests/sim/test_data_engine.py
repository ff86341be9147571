"""nav-r1 data: rows are what the reasoning node sends, splits are by scene, bad folders are named."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nav_r1.data.engine import DataConfig, brief_cot, build_dataset
from nav_r1.data.rows import DatasetError, NavCotRow, load_split, row_prompt
from nav_r1.prompt import NavPrompt
from nav_r1.rewards import format_reward, navigation_reward
from r1_core.nav.parse import parse_response
from r1_core.reasoner import ChatMessage, Observation

SMALL = DataConfig(episodes=3, episodes_per_scene=1, rooms=2, width=64, height=48, min_length_m=2.0,
                   max_length_m=4.0)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[NavCotRow, Observation]]]:
    seen: list[tuple[NavCotRow, Observation]] = []
    out = tmp_path_factory.mktemp("data") / "ds"
    build_dataset(out, SMALL, on_row=lambda row, obs: seen.append((row, obs)), progress=False)
    return out, seen


def _same_chat(a: list[ChatMessage], b: list[ChatMessage]) -> None:
    assert [m.role for m in a] == [m.role for m in b]
    for ma, mb in zip(a, b, strict=True):
        assert len(ma.content) == len(mb.content)
        for pa, pb in zip(ma.content, mb.content, strict=True):
            if isinstance(pa, str):
                assert pa == pb
            else:
                assert isinstance(pb, np.ndarray)
                np.testing.assert_array_equal(pa, pb)


def test_rows_render_to_the_nodes_prompt(dataset: tuple[Path, list[tuple[NavCotRow, Observation]]]) -> None:
    root, seen = dataset
    by_id = {row.id: obs for row, obs in seen}
    rows = [r for s in ("train", "val", "test") for r in load_split(root, s)]
    assert len(rows) == len(seen) > 10
    multi_history = 0
    for row in rows:
        obs = by_id[row.id]
        # The node builds NavPrompt(action_space, max_history=history_size) with one action per reply.
        node_prompt = NavPrompt(action_space=row.action_space, max_history=row.history_size)
        _same_chat(row_prompt(row, root), node_prompt.build(obs))
        multi_history += len(obs.history) >= 2
        parsed = parse_response(row.target)
        assert parsed.ok and format_reward(row.target) == 1.0
        assert len(parsed.actions) == node_prompt.max_actions_per_reply == row.max_actions == 1
        assert "the single next action" in node_prompt.build(obs)[1].text()
        # The target's own plan earns the full path reward against the expert path.
        r = navigation_reward(row.target, row.pose, row.expert_path, row.goal)
        assert r >= 1.0
    assert multi_history > 0  # history frames are kept, spaced as the node spaces them
    assert rows[-1].target.endswith("<action>stop</action>")


def test_splits_by_scene_card_and_hf_datasets(dataset: tuple[Path, list[tuple[NavCotRow, Observation]]]) -> None:
    root, _ = dataset
    scenes = {s: {r.scene for r in load_split(root, s)} for s in ("train", "val", "test")}
    assert all(scenes.values())
    assert not (scenes["train"] & scenes["val"] or scenes["train"] & scenes["test"] or scenes["val"] & scenes["test"])
    card = (root / "README.md").read_text()
    assert "templated" in card and "| move forward 25cm |" in card
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset(str(root))
    assert set(ds) == {"train", "val", "test"}
    assert ds["train"][0]["target"] == load_split(root, "train")[0].target
    assert {"instruction", "history_images", "action_space", "target"} <= set(ds["train"].column_names)


def test_bad_rows_and_missing_images_are_named(dataset: tuple[Path, list[tuple[NavCotRow, Observation]]],
                                               tmp_path: Path) -> None:
    src, _ = dataset
    root = tmp_path / "ds"
    shutil.copytree(src, root)
    lines = (root / "train.jsonl").read_text().splitlines()
    rec = json.loads(lines[1])
    del rec["target"]
    (root / "train.jsonl").write_text("\n".join([lines[0], json.dumps(rec), *lines[2:]]) + "\n")
    with pytest.raises(DatasetError, match=r"train\.jsonl: row 2: missing field 'target'"):
        load_split(root, "train")
    (root / "train.jsonl").write_text(lines[0] + "\n{not json\n")
    with pytest.raises(DatasetError, match=r"train\.jsonl: row 2: "):
        load_split(root, "train")
    first = json.loads(lines[0])["history_images"][-1]
    (root / first).unlink()
    (root / "train.jsonl").write_text(lines[0] + "\n")
    with pytest.raises(DatasetError, match=rf"train\.jsonl: row 1: image '{first}' does not exist"):
        load_split(root, "train")


def test_cli_refuses_existing_folder_and_leaves_no_partial(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    proc = subprocess.run([sys.executable, "-m", "nav_r1.cli", "data", "--out", str(out), "--episodes", "1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "exists" in proc.stderr
    # An interrupted build leaves no folder under the final name and no partial folder behind.
    bad = DataConfig(episodes=1, rooms=2, width=32, height=32, min_length_m=2.0, max_length_m=4.0)

    def boom(row: NavCotRow, obs: Observation) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_dataset(tmp_path / "half", bad, on_row=boom, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_brief_cot_keeps_the_decision_sentence() -> None:
    full = ("<think>I am in the hallway. The desk is 3.5 m away, via the door to the office. The way to the desk "
            "is 40° to my left, so I turn left.</think><action>turn left 30°</action>")
    brief = brief_cot(full)
    assert brief == ("<think>The way to the desk is 40° to my left, so I turn left.</think>"
                     "<action>turn left 30°</action>")
    assert format_reward(brief) == 1.0


def test_episodes_file_is_recorded_and_checked(tmp_path: Path) -> None:
    from r1_core.params import ParamError
    from r1_sim.episodes import generate_episodes, save_episodes
    from r1_sim.scene import generate_scene

    scene = generate_scene(5, 2)
    save_episodes(tmp_path / "eps.json", generate_episodes(scene, 1, 5, "dog", min_length=1.5, max_length=3.0))
    cfg = DataConfig(width=32, height=32)
    counts = build_dataset(tmp_path / "ds", cfg, episodes_file=tmp_path / "eps.json", progress=False)
    assert counts["train"] > 0 and counts["val"] == counts["test"] == 0  # one scene: all train
    rows = load_split(tmp_path / "ds", "train")
    assert {r.scene for r in rows} == {scene.name} and rows[-1].target.endswith("<action>stop</action>")
    with pytest.raises(ParamError, match="another robot"):
        build_dataset(tmp_path / "ds2", DataConfig(robot="uav"), episodes_file=tmp_path / "eps.json", progress=False)
    assert not (tmp_path / "ds2").exists()
