"""Prompts implement the PromptBuilder protocol and feed the shared backends."""

import numpy as np
import pytest

from r1_core.reasoner import Frame, Observation, PromptedReasoner
from vla_r1 import parse_response
from vla_r1.prompt import AffordancePrompt, TaskPrompt, TrajectoryPrompt, task_for_instruction

RGB = np.zeros((28, 28, 3), np.uint8)


def obs(task, instruction="pick up the red cube"):
    return Observation(instruction, Frame(RGB), extra={"task": task})


def test_prompts_carry_image_instruction_and_format():
    msgs = AffordancePrompt().build(obs("affordance"))
    assert [m.role for m in msgs] == ["system", "user"]
    assert "<think>" in msgs[0].text() and "<output>" in msgs[0].text()
    assert "pick up the red cube" in msgs[1].text() and '"width"' in msgs[1].text()
    assert len(msgs[1].images()) == 1
    traj = TrajectoryPrompt().build(obs("trajectory", "move above the plate"))
    assert "[[x1, y1]" in traj[1].text()
    assert TaskPrompt().build(obs("trajectory"))[1].text() == TrajectoryPrompt().build(obs("trajectory"))[1].text()


def test_prompt_errors_become_failed_responses():
    class Echo:
        name = "echo"

        def generate(self, messages):
            raise AssertionError("never reached")

    r = PromptedReasoner(Echo(), TaskPrompt()).infer(obs("grasp"))
    assert not r.ok and "task" in r.error
    r = PromptedReasoner(Echo(), AffordancePrompt()).infer(obs("affordance", "  "))
    assert not r.ok and "empty" in r.error
    with pytest.raises(ValueError, match="asks for task"):
        AffordancePrompt().build(obs("trajectory"))


def test_task_prefix():
    assert task_for_instruction("trajectory: move to the plate") == ("trajectory", "move to the plate")
    assert task_for_instruction("pick up: the cube", "affordance") == ("affordance", "pick up: the cube")


@pytest.mark.slow
def test_tiny_qwen_reply_is_parsed_without_exceptions(tmp_path):
    """A random tiny Qwen2.5-VL through the real transformers backend: garbage in, reasons out."""
    pytest.importorskip("transformers")
    from r1_core.backends import make_backend
    from r1_core.testing.tiny_qwen import build_tiny_qwen

    path = build_tiny_qwen(tmp_path / "tiny")
    reasoner = PromptedReasoner(make_backend(f"transformers:{path}", max_new_tokens=16), TaskPrompt())
    r = reasoner.infer(obs("trajectory"))
    assert r.ok, r.error
    parsed = parse_response(r.text, "trajectory")
    assert parsed.ok or parsed.reason
