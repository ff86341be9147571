"""nav-r1 train: SFT and GRPO on the tiny Qwen2.5-VL, checkpoints the reasoning node loads, resume, Ctrl-C."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from transformers import TrainerCallback

from nav_r1.data.engine import DataConfig, build_dataset
from nav_r1.data.rows import load_split, row_observation
from nav_r1.reasoners import make_reasoner
from nav_r1.reasoning import ReasoningConfig
from nav_r1.train.cli import train_main
from nav_r1.train.common import NavProcessor, TrainOptions, last_complete_checkpoint, load_processor
from nav_r1.train.examples import build_examples
from nav_r1.train.grpo import completion_text, make_navigation_reward, nav_action_match, nav_format
from nav_r1.train.sft import TrainInterruptedError, run_sft
from r1_core.testing.tiny_qwen import tiny_qwen_dir


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("train")
    data = root / "ds"
    cfg = DataConfig(episodes=3, episodes_per_scene=1, rooms=2, width=32, height=32, min_length_m=2.0,
                     max_length_m=3.0)
    build_dataset(data, cfg, progress=False)
    return root, data, tiny_qwen_dir(root)


@pytest.fixture(scope="module")
def sft_ckpt(setup: tuple[Path, Path, Path]) -> Path:
    root, data, model = setup
    out = root / "sft"
    rc = train_main(["sft", "--data", str(data), "--model", str(model), "--out", str(out), "--max-steps", "2",
                     "--batch-size", "2", "--save-steps", "1", "--max-rows", "8"])
    assert rc == 0
    return out


def _loads_in_reasoning_node(ckpt: Path, data: Path) -> None:
    reasoner = make_reasoner(ReasoningConfig(backend=f"transformers:{ckpt}"))
    row = load_split(data, "train")[3]
    reply = reasoner.infer(row_observation(row, data))
    assert reply.ok, reply.error
    assert reply.model == str(ckpt)


def test_sft_checkpoint_loads_in_the_reasoning_node(setup: tuple[Path, Path, Path], sft_ckpt: Path) -> None:
    _, data, _ = setup
    _loads_in_reasoning_node(sft_ckpt, data)
    info = json.loads((sft_ckpt / "nav_r1_training.json").read_text())
    assert info["kind"] == "sft" and info["steps"] == 2
    run = sft_ckpt.with_name("sft.run")
    logged = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if "loss" in r] == [1, 2]
    assert (run / "curves.png").stat().st_size > 1000
    assert not list(sft_ckpt.parent.glob(".sft.partial-*"))


def test_sft_loss_is_on_the_reply_tokens_only(setup: tuple[Path, Path, Path]) -> None:
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    _, data, model = setup
    processor = load_processor(model)
    assert isinstance(processor, NavProcessor)
    row = load_split(data, "train")[2]
    ex = build_examples([row], data)[0]
    batch = DataCollatorForVisionLanguageModeling(processor, completion_only_loss=True)(
        [{"prompt": ex["prompt"], "completion": ex["completion"], "images": ex["images"]}])
    labels = batch["labels"][0]
    learned = processor.tokenizer.decode(labels[labels != -100])
    assert learned.strip() == row.target + "<|im_end|>"
    assert int((batch["input_ids"][0] == processor.image_token_id).sum()) > 0


def test_resume_continues_from_the_last_complete_checkpoint(setup: tuple[Path, Path, Path], sft_ckpt: Path) -> None:
    root, data, model = setup
    run = root / "sft.run"
    # A checkpoint interrupted mid-save (no trainer_state.json) is never resumed from.
    (run / "checkpoint-9").mkdir()
    assert last_complete_checkpoint(run) == run / "checkpoint-2"
    rc = train_main(["sft", "--data", str(data), "--model", str(model), "--out", str(sft_ckpt), "--max-steps", "3",
                     "--batch-size", "2", "--save-steps", "1", "--max-rows", "8", "--resume", "--force"])
    assert rc == 0
    info = json.loads((sft_ckpt / "nav_r1_training.json").read_text())
    assert info["steps"] == 3 and info["resumed_from"].endswith("checkpoint-2")


class _CtrlC(TrainerCallback):
    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.global_step == 2:
            raise KeyboardInterrupt


def test_ctrl_c_keeps_the_last_complete_checkpoint(setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, data, model = setup
    out = tmp_path / "ck"
    opts = TrainOptions(data=data, model=model, out=out, run_dir=tmp_path / "run", max_steps=5, batch_size=2,
                        save_steps=1, max_rows=8)
    with pytest.raises(TrainInterruptedError, match=r"checkpoint-1 \(continue with --resume\).*was not written"):
        run_sft(opts, callbacks=[_CtrlC()])
    assert not out.exists() and not list(tmp_path.glob(".ck.partial-*"))
    last = last_complete_checkpoint(tmp_path / "run")
    assert last is not None and last.name == "checkpoint-1"
    _loads_in_reasoning_node(last, data)  # a full fine-tune's checkpoint is a whole model the node loads


def test_grpo_with_lora_from_the_sft_checkpoint(setup: tuple[Path, Path, Path], sft_ckpt: Path) -> None:
    root, data, _ = setup
    out = root / "grpo"
    rc = train_main(["grpo", "--data", str(data), "--model", str(sft_ckpt), "--out", str(out), "--max-steps", "1",
                     "--batch-size", "2", "--num-generations", "2", "--max-completion-length", "8",
                     "--lora-rank", "4", "--lora-last-blocks", "1", "--max-rows", "4", "--action-weight", "0.5"])
    assert rc == 0
    _loads_in_reasoning_node(out, data)
    logged = [json.loads(line) for line in (root / "grpo.run" / "log.jsonl").read_text().splitlines()]
    keys = set().union(*logged)
    assert {"rewards/nav_format/mean", "rewards/nav_navigation/mean", "rewards/nav_action_match/mean", "kl"} <= keys
    info = json.loads((out / "nav_r1_training.json").read_text())
    assert info["grpo"]["beta"] == 0.02


def test_grpo_reward_adapters() -> None:
    good = [{"role": "assistant", "content": "<think>go</think><action>move forward 25cm</action>"}]
    bad = [{"role": "assistant", "content": [{"type": "text", "text": "forward!"}]}]
    assert completion_text(bad) == "forward!"
    assert nav_format([good, bad]) == [1.0, 0.0]
    nav = make_navigation_reward(1.0)
    r = nav([good, bad], pose=[[0, 0, 0]] * 2, expert_path=[[[0, 0], [0.25, 0]]] * 2, goal=[[0.25, 0]] * 2)
    assert r == [2.0, 0.0]
    target = "<think>x</think><action>move forward 25cm</action>"
    assert nav_action_match([good, bad], target=[target, target]) == [1.0, 0.0]


def test_bad_inputs_get_one_line(setup: tuple[Path, Path, Path], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    _, data, model = setup
    rc = train_main(["sft", "--data", str(data), "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "is not a folder" in err
    broken = tmp_path / "ds"
    shutil.copytree(data, broken)
    lines = (broken / "train.jsonl").read_text().splitlines()
    (broken / json.loads(lines[2])["history_images"][-1]).unlink()
    rc = train_main(["sft", "--data", str(broken), "--model", str(model), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "train.jsonl: row 3: image" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
