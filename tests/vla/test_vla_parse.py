"""vla_r1.parse_response: scales, malformed replies, out-of-image answers."""

import numpy as np
import pytest

from vla_r1 import parse_response
from vla_r1.parse import format_ok


def reply(body: str, think: str = "look at the red cube") -> str:
    return f"<think>{think}</think><output>{body}</output>"


def test_affordance_normalised_box():
    r = parse_response(reply('{"x": 0.5, "y": 0.25, "width": 0.1, "height": 0.2}'), "affordance")
    assert r.ok and r.scale == "normalized" and r.strict_format
    assert (r.box.x, r.box.y, r.box.width, r.box.height) == pytest.approx((0.5, 0.25, 0.1, 0.2))
    assert r.reasoning == "look at the red cube"


def test_affordance_pixels_and_thousand_scales():
    px = parse_response(reply('{"x": 320, "y": 120, "width": 64, "height": 48}'), "affordance", image_size=(640, 480))
    assert px.ok and px.scale == "pixels"
    assert (px.box.x, px.box.y, px.box.width, px.box.height) == pytest.approx((0.5, 0.25, 0.1, 0.1))
    # Without the image size, values above 1 read as VLA-R1's [0, 1000) scale.
    th = parse_response(reply('{"x": 500, "y": 250, "width": 100, "height": 200}'), "affordance")
    assert th.ok and th.scale == "thousand"
    assert (th.box.x, th.box.y) == pytest.approx((0.5, 0.25))
    # Explicit scale removes the ambiguity.
    ex = parse_response(
        reply('{"x": 500, "y": 250, "width": 100, "height": 200}'),
        "affordance",
        image_size=(640, 480),
        scale="thousand",
    )
    assert ex.ok and ex.box.x == pytest.approx(0.5)


def test_box_spilling_over_an_edge_is_clipped():
    r = parse_response(reply('{"x": 0.95, "y": 0.5, "width": 0.2, "height": 0.2}'), "affordance")
    assert r.ok
    x1, _, x2, _ = r.box.corners()
    assert x1 == pytest.approx(0.85) and x2 == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty reply"),
        ("<think>hmm</think>", "no <output>"),
        (reply(""), "empty <output>"),
        (reply("{x: 0.5"), "not valid JSON"),
        (reply('{"x": 0.5, "y": 0.5}'), "lacks width, height"),
        (
            reply(
                '{"x": 1.5, "y": 0.5, "width": 0.1, "height": 0.1}',
            ),
            "outside the image",
        ),
        (reply('{"x": 0.5, "y": 0.5, "width": 0, "height": 0.1}'), "zero size"),
        (reply('{"x": -0.2, "y": 0.5, "width": 0.1, "height": 0.1}'), "negative"),
        (reply('{"x": "left", "y": 0.5, "width": 0.1, "height": 0.1}'), "non-numeric"),
        (reply('{"x": 5000, "y": 10, "width": 10, "height": 10}'), "fit no coordinate scale"),
        (reply("[1, 2, 3]"), "expected a JSON object"),
    ],
)
def test_affordance_failures_carry_reasons(text, why):
    r = parse_response(text, "affordance", image_size=(640, 480))
    assert not r.ok and why in r.reason and r.box is None


def test_trajectory_scales_and_shapes():
    r = parse_response(reply("[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]"), "trajectory")
    assert r.ok and r.points.shape == (3, 2)
    np.testing.assert_allclose(r.points[-1], [0.5, 0.6])
    t = parse_response(reply("[[100, 200], [300, 400]]"), "trajectory")
    assert t.ok and t.scale == "thousand"
    np.testing.assert_allclose(t.points, [[0.1, 0.2], [0.3, 0.4]])
    p = parse_response(reply("```json\n[[64, 48], [320, 240]]\n```"), "trajectory", image_size=(640, 480))
    assert p.ok and p.scale == "pixels"
    np.testing.assert_allclose(p.points, [[0.1, 0.1], [0.5, 0.5]])
    d = parse_response(reply('{"trajectory": [{"x": 0.1, "y": 0.2}, {"x": 0.3, "y": 0.4}]}'), "trajectory")
    assert d.ok and d.points.shape == (2, 2)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("[]", "empty"),
        ("[[0.1, 0.2]]", "at least 2"),
        ("[[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]]", "pairs"),
        ("[[0.1, 0.2], [900, 1200]]", "outside the image"),
        ("[[100, 200], [900, 1200]]", "fit no coordinate scale"),
        ("[[0.1, nan], [0.2, 0.3]]", "valid JSON"),
    ],
)
def test_trajectory_failures(body, why):
    r = parse_response(reply(body), "trajectory")
    assert not r.ok and why in r.reason


def test_pixel_trajectory_beyond_the_image_is_refused():
    r = parse_response(reply("[[10, 10], [700, 100]]"), "trajectory", image_size=(640, 480), scale="pixels")
    assert not r.ok and "outside the image" in r.reason


def test_unknown_task_and_scale_are_failures_not_exceptions():
    assert "unknown task" in parse_response(reply("[]"), "grasp").reason
    assert "unknown coordinate scale" in parse_response(reply("[]"), "trajectory", scale="cm").reason


def test_loose_format_still_parses_but_is_not_strict():
    text = "Sure! <output>[[0.1, 0.1], [0.2, 0.2]]</output>"
    r = parse_response(text, "trajectory")
    assert r.ok and not r.strict_format and not format_ok(text)
    assert format_ok(reply("[[0.1, 0.1], [0.2, 0.2]]"))
    assert not format_ok(reply("[[0.1, 0.1]]", think="  "))


def test_deeply_nested_output_is_a_failure_not_recursion_error():
    """5,000 nested brackets in <output> (issue 12.11): a parsed failure, as the parser promises."""
    from vla_r1.parse import parse_response

    text = "<think>ok</think><output>" + "[" * 5000 + "]" * 5000 + "</output>"
    for task in ("affordance", "trajectory"):
        reply = parse_response(text, task=task)
        assert not reply.ok
        assert "nesting depth" in reply.reason
