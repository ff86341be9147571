"""nav-r1 train sft|grpo on a scene-data folder: the tiny Qwen learns 3D-R1's tasks and answers as a scene reasoner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from PIL import Image

from nav_r1.scene.data import DataConfig, read_rows, write_dataset
from nav_r1.scene.protocol import parse_scene_reply
from nav_r1.scene.reasoners import SceneQuery, VLMSceneReasoner
from nav_r1.train.cli import train_main
from nav_r1.train.common import TrainOptions
from nav_r1.train.examples import training_dataset
from nav_r1.train.grpo import GrpoOptions, reward_functions
from nav_r1.train.scene import is_scene_dataset
from r1_core.backends import make_backend
from r1_core.embeddings import default_embedding_model
from r1_core.testing.tiny_qwen import tiny_qwen_dir

CFG = DataConfig(scenes=3, seed=3, views_per_room=1, views_per_row=2, width=48, height=36, min_rooms=2,
                 max_rooms=2)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("scene_train")
    write_dataset(root / "sd", CFG)
    return root, root / "sd", tiny_qwen_dir(root)


def _opts(data: Path, model: Path, out: Path, **kw: object) -> TrainOptions:
    return TrainOptions(data=data, model=model, out=out, run_dir=out.with_name(out.name + ".run"), **kw)  # type: ignore[arg-type]


def test_scene_folder_becomes_prompt_completion_examples(setup: tuple[Path, Path, Path]) -> None:
    root, data, model = setup
    assert is_scene_dataset(data) and not is_scene_dataset(root)
    rows = read_rows(data, "train")
    dialogue = next(r for r in rows if r["task"] == "dialogue")
    n = rows.index(dialogue) + 1
    ds, n_rows, task = training_dataset(_opts(data, model, root / "x", max_rows=n), with_completion=True)
    assert task == "scene" and n_rows == n
    # every turn of the dialogue row is one example; images loaded, one per view placeholder
    assert len(ds) == n - 1 + len(dialogue["turns"])
    ex = ds[len(ds) - 1]
    assert ex["completion"][0]["content"][0]["text"] == dialogue["turns"][-1]["target"]
    assert sum(p["type"] == "image" for p in ex["prompt"][-1]["content"]) == len(ex["images"]) == 2
    assert isinstance(ex["images"][0], Image.Image) and ex["images"][0].size == (48, 36)
    blank, _, _ = training_dataset(_opts(data, model, root / "x", max_rows=1, blank_images=True),
                                   with_completion=False)
    assert "completion" not in blank.column_names and {"task", "answer", "box_json"} <= set(blank.column_names)
    assert not np.asarray(blank[0]["images"][0]).any()


def test_scene_grpo_rewards_and_weights() -> None:
    funcs, weights = reward_functions(GrpoOptions(format_weight=0.5, perception_weight=2.0, semantic_weight=0.0),
                                      "scene")
    assert [f.__name__ for f in funcs] == ["format_rewards", "perception_rewards"] and weights == [0.5, 2.0]
    box = {"center": [1.0, 2.0, 0.5], "size": [1.0, 1.0, 1.0]}
    good = "<think>t</think><answer>" + json.dumps({"answer": "chair", "objects": [
        {"label": "chair", "box_3d": box}]}) + "</answer>"
    assert funcs[1]([good, "<think>t</think><answer>no</answer>"], box_json=[json.dumps(box)] * 2) == [1.0, 0.0]
    from nav_r1.train.common import TrainError

    with pytest.raises(TrainError, match="every scene reward weight is 0"):
        reward_functions(GrpoOptions(format_weight=0.0, perception_weight=0.0, semantic_weight=0.0), "scene")
    with pytest.raises(TrainError, match="--embedding-model"):
        reward_functions(GrpoOptions(embedding_model="/nonexistent"), "scene")


def test_sft_then_grpo_on_scene_data_answers_as_a_scene_reasoner(setup: tuple[Path, Path, Path]) -> None:
    root, data, model = setup
    sft, grpo = root / "sft", root / "grpo"
    rc = train_main(["sft", "--data", str(data), "--model", str(model), "--out", str(sft), "--max-steps", "2",
                     "--batch-size", "2", "--save-steps", "10", "--max-rows", "6"])
    assert rc == 0
    info = json.loads((sft / "nav_r1_training.json").read_text())
    assert info["task"] == "scene" and info["rows"] == 6 and info["steps"] == 2
    semantic = "1.0" if default_embedding_model() is not None else "0"
    rc = train_main(["grpo", "--data", str(data), "--model", str(sft), "--out", str(grpo), "--max-steps", "1",
                     "--batch-size", "2", "--num-generations", "2", "--max-completion-length", "8",
                     "--save-steps", "10", "--max-rows", "2", "--semantic-weight", semantic])
    assert rc == 0
    info = json.loads((grpo / "nav_r1_training.json").read_text())
    assert info["task"] == "scene" and info["steps"] == 1
    assert info["reward_functions"][:2] == ["format_rewards", "perception_rewards"]
    logged = [json.loads(line) for line in (grpo.with_name("grpo.run") / "log.jsonl").read_text().splitlines()]
    assert any("rewards/perception_rewards/mean" in r for r in logged)
    if semantic != "0":
        assert info["reward_functions"] == ["format_rewards", "perception_rewards", "semantic_rewards"]
        assert any("rewards/semantic_rewards/mean" in r for r in logged)
    # the checkpoint answers through the scene node's reasoner (a transformers backend over it)
    row = read_rows(data, "test")[0]
    rgb = tuple(np.asarray(Image.open(data / p).convert("RGB")) for p in row["images"])
    reasoner = VLMSceneReasoner(make_backend(f"transformers:{grpo}"))
    text = reasoner.reply(SceneQuery(question=row["question"], scene=row["scene"],
                                     view_ids=tuple(row["views"]), rgb=rgb))
    # reply() raises SceneReasonerError when generation fails; the answer comes from this checkpoint
    assert reasoner.name == str(grpo) and isinstance(text, str) and text
    parsed = parse_scene_reply(text)
    assert parsed.ok or parsed.failure  # a parsed answer or a named failure, never an exception


def test_scene_data_errors_are_one_line(setup: tuple[Path, Path, Path], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    _, data, model = setup
    broken = tmp_path / "sd"
    shutil.copytree(data, broken)
    first = json.loads((broken / "train.jsonl").read_text().splitlines()[0])
    (broken / first["images"][0]).unlink()
    rc = train_main(["sft", "--data", str(broken), "--model", str(model), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and f"row '{first['id']}'" in err and "unreadable" in err
    assert not (tmp_path / "o").exists()
