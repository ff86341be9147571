"""NavPrompt reproduces Nav-R1's Nav-CoT prompt structure."""

from __future__ import annotations

import numpy as np
import pytest

from nav_r1 import NAV_R1_ACTION_SPACE, UAV_ACTION_SPACE, NavPrompt, parse_response
from r1_core.reasoner import Frame, Observation, PromptBuilder


def frame(value: int) -> Frame:
    return Frame(np.full((4, 6, 3), value, dtype=np.uint8))


def obs(n_history: int, instruction: str = "Walk past the sofa and stop at the door.") -> Observation:
    return Observation(instruction, frame(255), history=tuple(frame(i) for i in range(n_history)))


def test_is_a_prompt_builder() -> None:
    builder: PromptBuilder = NavPrompt()  # checked by mypy where tests are type-checked
    assert callable(builder.build)


def test_full_history_uses_images_1_to_5_and_image_6() -> None:
    msgs = NavPrompt().build(obs(8))
    assert [m.role for m in msgs] == ["system", "user"]
    user = msgs[1]
    text = user.text()
    assert "Instruction: Walk past the sofa and stop at the door." in text
    assert "Images 1-5 are your previous views, oldest first" in text
    assert "Image 6 is your current view" in text
    for option in NAV_R1_ACTION_SPACE:
        assert f"'{option}'" in text
    assert "<think></think>" in text and "<action></action>" in text
    images = user.images()
    # the 5 most recent history frames (3..7), oldest first, then the current frame
    assert [int(im[0, 0, 0]) for im in images] == [3, 4, 5, 6, 7, 255]
    # each image follows its own label
    labels = [p for p in user.content[:-1] if isinstance(p, str) and p.startswith("Image ")]
    assert labels[:5] == [f"Image {i}: " for i in range(1, 6)]


@pytest.mark.parametrize(
    ("n", "span", "current"), [(0, None, 1), (1, "Image 1 is your previous view:", 2), (3, "Images 1-3", 4)]
)
def test_short_history_is_numbered_from_one(n: int, span: str | None, current: int) -> None:
    user = NavPrompt().build(obs(n))[1]
    text = user.text()
    assert f"Image {current} is your current view" in text
    assert len(user.images()) == n + 1
    if span is None:
        assert "previous views" not in text
    else:
        assert span in text


def test_history_can_be_disabled_and_limited() -> None:
    assert len(NavPrompt(max_history=0).build(obs(4))[1].images()) == 1
    assert len(NavPrompt(max_history=2).build(obs(4))[1].images()) == 3


def test_uav_action_space_and_multi_action_request() -> None:
    text = NavPrompt(action_space=UAV_ACTION_SPACE, max_actions_per_reply=4).build(obs(0))[1].text()
    assert "'ascend 25cm'" in text and "'descend 25cm'" in text
    assert "next 1 to 4 actions" in text


def test_example_in_the_format_requirement_parses() -> None:
    text = NavPrompt().build(obs(0))[1].text()
    example = text[text.index("<think>...") :].rstrip(".")
    assert parse_response(example).ok


def test_every_action_option_parses() -> None:
    for option in UAV_ACTION_SPACE:
        result = parse_response(f"<think>t</think><action>{option}</action>")
        assert result.ok and len(result.actions) == 1, option


def test_bad_arguments_and_observations() -> None:
    with pytest.raises(ValueError, match="action_space"):
        NavPrompt(action_space=())
    with pytest.raises(ValueError, match="max_history"):
        NavPrompt(max_history=-1)
    with pytest.raises(ValueError, match="instruction"):
        NavPrompt().build(obs(0, instruction="   "))
