"""Data engine, expert/blind reasoners, scene-eval reports and the CLI commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nav_r1.cli import main
from nav_r1.scene.boxes import Box3D, iou_3d
from nav_r1.scene.data import TASKS, DataConfig, read_rows, write_dataset
from nav_r1.scene.evaluate import SceneStore, evaluate
from nav_r1.scene.protocol import parse_scene_reply
from nav_r1.scene.reasoners import BlindReasoner, ExpertReasoner, SceneQuery
from nav_r1.scene.tasks import execute
from r1_core.params import ParamError

CFG = DataConfig(scenes=3, seed=5, views_per_room=2, width=64, height=48, min_rooms=3, max_rooms=3)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scene_data")
    write_dataset(out, CFG)
    return out


def test_layout_card_and_splits_by_scene(dataset: Path) -> None:
    card = json.loads((dataset / "card.json").read_text())
    assert card["schema"] == "nav_r1.scene_data/1"
    scenes = card["scenes"]
    assert all(len(scenes[s]) == 1 for s in ("train", "val", "test"))
    for split in ("train", "val", "test"):
        rows = read_rows(dataset, split)
        assert {r["scene"] for r in rows} == set(scenes[split])  # no scene shared between splits
        assert {r["task"] for r in rows} == set(TASKS)
        assert sum(card["counts"][split].values()) == len(rows)
        for r in rows:
            assert r["target"] == f"<think>{r['think']}</think><answer>{r['answer']}</answer>"
            assert parse_scene_reply(r["target"]).ok
            assert all((dataset / p).is_file() for p in r["images"]) and len(r["images"]) <= CFG.views_per_row
    assert "| train |" in (dataset / "README.md").read_text()


def test_the_folder_loads_like_the_navigation_data(dataset: Path, tmp_path: Path) -> None:
    """One layout for both recipes: ``{split}.jsonl`` named in the card's front matter (datasets.load_dataset)."""
    import datasets

    loaded = datasets.load_dataset(str(dataset))
    assert set(loaded) == {"train", "val", "test"}
    for split in loaded:
        assert len(loaded[split]) == len(read_rows(dataset, split))
    # An existing folder is refused without force, replaced whole with it; no partial folder is left.
    with pytest.raises(ParamError, match="exists"):
        write_dataset(dataset, CFG)
    copy = tmp_path / "copy"
    write_dataset(copy, CFG)
    (copy / "stale.txt").write_text("from an older run")
    write_dataset(copy, CFG, force=True)
    assert not (copy / "stale.txt").exists() and (copy / "card.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]


def test_rows_agree_with_the_labels(dataset: Path) -> None:
    store = SceneStore(dataset)
    for r in read_rows(dataset, "test"):
        scene = store.scene(r["scene"])
        if r["task"] in ("qa", "plan"):
            assert execute(scene, r["program"]) == r["answer"], r["question"]
        if r["task"] == "grounding":
            obj = next(o for o in scene.objects if o.object_id == r["object_id"])
            assert iou_3d(Box3D.from_dict(r["box"]), Box3D(obj.box.center, obj.box.size)) > 0.999
            assert obj.label in r["question"]
        if r["task"] == "dialogue":
            assert len(r["turns"]) >= 3
            for t in r["turns"]:
                assert execute(scene, t["program"]) == t["answer"], t["question"]
            if r["turns"][0]["answer"] == "no":  # negative chain: "one" is the object, found elsewhere
                assert r["turns"][1]["question"] == "Which room has one?" and r["turns"][1]["answer"] != "none"
            else:
                assert r["turns"][0]["answer"] == "yes" and r["turns"][1]["question"] == "What colour is it?"
    chains = [r for r in read_rows(dataset, "test") if r["task"] == "dialogue"]
    assert {r["turns"][0]["answer"] for r in chains} == {"yes", "no"}
    counts = [r for r in read_rows(dataset, "test") if r["qtype"] == "count" and "pieces" not in r["question"]]
    assert counts, "counting questions expected"


def test_expert_is_the_upper_bound_and_blind_is_not(dataset: Path, tmp_path: Path) -> None:
    store = SceneStore(dataset)
    expert = evaluate(dataset, "test", ExpertReasoner(store.scene), tmp_path / "expert", pictures=2)
    t = expert["tasks"]
    assert t["grounding"]["acc@0.5"] == 1.0 and t["qa"]["em"] == 1.0 and t["plan"]["em"] == 1.0
    assert t["dialogue"]["turn_accuracy"] == 1.0 and t["object_caption"]["bleu4"] > 0.99
    assert t["dense_caption"]["recall@0.5iou"] == 1.0 and t["dense_caption"]["cider@0.5iou"] > 1.0
    assert len(expert["pictures"]) == 2 and all((tmp_path / "expert" / p).is_file() for p in expert["pictures"])
    md = (tmp_path / "expert" / "report.md").read_text()
    assert "## grounding" in md and "acc@0.25" in md
    blind = evaluate(dataset, "test", BlindReasoner(read_rows(dataset, "train")), tmp_path / "blind", pictures=0)
    b = blind["tasks"]
    assert b["grounding"]["acc@0.25"] < 0.2 and b["qa"]["em"] < 0.7 and b["dialogue"]["dialogue_accuracy"] < 0.5


def test_expert2d_grounds_through_depth_and_the_fused_cloud(dataset: Path, tmp_path: Path) -> None:
    store = SceneStore(dataset)
    report = evaluate(dataset, "test", ExpertReasoner(store.scene, boxes_2d=True), tmp_path, pictures=1)
    g = report["tasks"]["grounding"]
    # Lifting is real geometry, not a copy of the labels: good but not perfect.
    assert g["n"] > 0 and g["acc@0.25"] >= 0.4 and g["mean_iou"] < 0.99


def test_blind_reasoner_gets_no_privileged_fields(dataset: Path) -> None:
    seen: list[SceneQuery] = []

    class Spy(BlindReasoner):
        def reply(self, query: SceneQuery) -> str:
            seen.append(query)
            return super().reply(query)

    evaluate(dataset, "test", Spy(read_rows(dataset, "train")), dataset / "spy_report", pictures=0, limit=20)
    assert seen and all(set(q.privileged) <= {"task", "qtype"} for q in seen)


def test_a_malformed_box_reply_is_a_counted_failure_not_a_box(dataset: Path, tmp_path: Path) -> None:
    class Bad:
        name = "bad"
        privileged = False

        def reset(self) -> None:
            pass

        def reply(self, query: SceneQuery) -> str:
            return '<think>x</think><answer>{"answer": "a", "objects": [{"label": "a", "view": 0, ' \
                   '"box_2d": [9, 9, 1, 1]}]}</answer>'

    report = evaluate(dataset, "test", Bad(), tmp_path, pictures=0)
    g = report["tasks"]["grounding"]
    assert g["acc@0.25"] == 0.0 and g["failures"]["replies"]["malformed_box"] == g["n"]


def test_cli_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scene-data", "--out", str(tmp_path / "d"), "--scenes", "3", "--width", "48", "--height", "36",
                 "--views-per-room", "1", "--max-rooms", "3"]) == 0
    assert main(["scene-eval", "--data", str(tmp_path / "d"), "--split", "test", "--reasoner", "expert",
                 "--out", str(tmp_path / "r"), "--limit", "30"]) == 0
    assert json.loads((tmp_path / "r" / "report.json").read_text())["reasoner"] == "expert"
    assert main(["scene-data", "--out", str(tmp_path / "e"), "--scenes", "1"]) == 2
    assert "scenes" in capsys.readouterr().err
    assert main(["scene-eval", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "r2")]) == 2


def test_scene_eval_with_a_model_backend(dataset: Path, tmp_path: Path) -> None:
    replies = tmp_path / "replies.txt"
    replies.write_text("<think>I count what I see.</think><answer>1</answer>\n")
    assert main(["scene-eval", "--data", str(dataset), "--reasoner", "model", "--backend", f"scripted:{replies}",
                 "--out", str(tmp_path / "r"), "--pictures", "1"]) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    qa = report["tasks"]["qa"]
    assert report["reasoner"] == "scripted:replies.txt" and 0.0 < qa["em"] < 1.0
    assert qa["em_by_type"]["count"] > 0  # "1" is right for unique labels
    assert report["tasks"]["grounding"]["failures"]["grounding"]["no_box"] == report["tasks"]["grounding"]["n"]
    assert main(["scene-eval", "--data", str(dataset), "--reasoner", "model", "--out", str(tmp_path / "x")]) == 2


def test_training_examples_and_trl_reward_functions(dataset: Path) -> None:
    from datasets import Dataset

    from nav_r1.scene.training import make_reward_funcs, training_examples

    examples = training_examples(dataset, "train")
    rows = read_rows(dataset, "train")
    n_turns = sum(len(r["turns"]) for r in rows if r["task"] == "dialogue")
    assert len(examples) == len(rows) - sum(r["task"] == "dialogue" for r in rows) + n_turns
    ex = next(e for e in examples if e["task"] == "grounding")
    placeholders = sum(p.get("type") == "image" for p in ex["prompt"][-1]["content"])
    assert placeholders == len(ex["images"]) > 0 and all(Path(p).is_file() for p in ex["images"])
    second_turn = next(e for e in examples if e["task"] == "dialogue" and len(e["prompt"]) == 4)
    assert second_turn["prompt"][2]["content"][0]["text"] == "yes"  # the earlier turn's reference answer
    Dataset.from_list(examples)  # one schema for every row (what the trainers load)
    fmt, per = make_reward_funcs()
    gold = [ex["completion"], "<think>x</think><answer>" + json.dumps(
        {"answer": "a", "objects": [{"label": "a", "box_3d": {"center": [0, 0, 0], "size": [1, 1, 1]}}]})
        + "</answer>", "no tags at all {", None]
    cols = {"box_json": [ex["box_json"]] * 4, "task": ["grounding"] * 4, "answer": [ex["answer"]] * 4}
    assert fmt(gold, **cols) == [1.0, 1.0, 0.0, 0.0]
    rewards = per(gold, **cols)
    assert rewards[0] == pytest.approx(1.0, abs=1e-3) and rewards[1] < 0.1 and rewards[2:] == [0.0, 0.0]
    assert per(gold) == [0.0] * 4  # no box column: nothing to score, no exception


def test_depth_noise_option_perturbs_the_saved_depth(tmp_path: Path) -> None:
    import cv2

    from nav_r1.scene.data import render_scene
    from nav_r1.scene.procedural import default_intrinsics, render_frame, room_view_poses
    from r1_sim.scene import generate_scene

    scene = generate_scene(1, 2)
    cfg = DataConfig(views_per_room=1, width=64, height=48, depth_noise=0.02)
    render_scene(scene, tmp_path, cfg, np.random.default_rng(0))
    saved = cv2.imread(str(tmp_path / "depth" / "000.png"), cv2.IMREAD_UNCHANGED).astype(float) / 1000
    clean, _ = render_frame(scene, default_intrinsics(64, 48), room_view_poses(scene, 1)[0][1])
    valid = clean.depth > 0
    rel = (saved[valid] - clean.depth[valid]) / clean.depth[valid]
    assert 0.01 < float(np.std(rel)) < 0.03 and abs(float(np.mean(rel))) < 0.005
    assert np.all(saved[~valid] == 0)
