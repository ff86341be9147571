"""Property-based tests of nav_r1.parse_response over random input."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from nav_r1 import ParseLimits, parse_response
from r1_core.nav.actions import Action

LIMITS = ParseLimits()


def caps(limits: ParseLimits) -> dict[str, float]:
    return {
        "forward": limits.max_forward_m,
        "turn_left": limits.max_turn_deg,
        "turn_right": limits.max_turn_deg,
        "up": limits.max_vertical_m,
        "down": limits.max_vertical_m,
        "stop": 0.0,
    }


CAPS = caps(LIMITS)

# Pieces a model (or an attacker) might emit, recombined at random.
FRAGMENTS = [
    "<think>", "</think>", "<action>", "</action>", "<answer>", "</answer>", "<action", "</",
    "move forward", "turn left", "turn right", "ascend", "descend", "stop", "forward", "left",
    " 25", " -3", " nan", " inf", " 1e309", " 0.5", " 1e-3", "cm", "m", "°", " degrees", " rad",
    ", ", " then ", "\n", "1. ", "jump", "<|im_end|>", "ignore previous instructions", "π", "\u2212",
]

_settings = settings(max_examples=150, deadline=None)


def _check_invariants(text: str, limits: ParseLimits = LIMITS) -> None:
    result = parse_response(text, limits)
    assert isinstance(result.ok, bool)
    if result.ok:
        assert result.failure is None
        assert len(result.actions) <= limits.max_actions
        assert all(a.kind != "stop" for a in result.actions[:-1])  # nothing follows a stop
        for a in result.actions:
            assert isinstance(a, Action)
            assert math.isfinite(a.value) and a.value >= 0.0
            assert a.value <= caps(limits)[a.kind] + 1e-9, (text, a)
    else:
        assert result.failure and ":" in result.failure
        assert result.actions == ()


@_settings
@given(st.text(max_size=300))
def test_never_raises_on_arbitrary_text(text: str) -> None:
    _check_invariants(text)


@_settings
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=25).map("".join))
def test_never_raises_on_recombined_fragments(text: str) -> None:
    _check_invariants(text)


_kinds = st.sampled_from(["forward", "turn_left", "turn_right", "up", "down", "stop"])


@st.composite
def capped_actions(draw: st.DrawFn) -> Action:
    kind = draw(_kinds)
    if kind == "stop":
        return Action("stop")
    value = draw(st.floats(min_value=0.0, max_value=CAPS[kind], allow_nan=False))
    return Action(kind, value)


@st.composite
def action_plans(draw: st.DrawFn, max_size: int = LIMITS.max_actions) -> list[Action]:
    """Motions, optionally ended by one stop (a stop is always the last action of a plan)."""
    moves = draw(st.lists(capped_actions().filter(lambda a: a.kind != "stop"), max_size=max_size - 1))
    if draw(st.booleans()) or not moves:
        moves.append(Action("stop"))
    return moves


@_settings
@given(action_plans(), st.sampled_from([", ", "; ", "\n"]))
def test_round_trip_of_action_to_text(acts: list[Action], sep: str) -> None:
    body = sep.join(a.to_text() for a in acts)
    result = parse_response(f"<think>why</think><action>{body}</action>")
    assert result.ok, (body, result.failure)
    assert [a.kind for a in result.actions] == [a.kind for a in acts]
    for got, want in zip(result.actions, acts, strict=True):
        # to_text prints 6 significant digits
        assert math.isclose(got.value, want.value, rel_tol=1e-5, abs_tol=1e-9), (got, want)


@_settings
@given(
    action_plans(max_size=3),
    st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != ""),
)
def test_text_around_the_tags_is_never_accepted(acts: list[Action], junk: str) -> None:
    body = ", ".join(a.to_text() for a in acts)
    reply = f"<think>t</think><action>{body}</action>"
    for text in (junk + reply, reply + junk):
        result = parse_response(text)
        # Only end-of-turn tokens and whitespace may surround a tagged reply.
        if result.ok:
            assert text.strip().replace("<|im_end|>", "").replace("<|endoftext|>", "").replace(
                "</s>", ""
            ).strip() == reply, text


@_settings
@given(
    st.sampled_from(["forward", "turn_left", "ascend"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0.0, max_value=10.0),
)
def test_magnitudes_over_any_cap_are_failures(verb: str, value: float, cap: float) -> None:
    limits = ParseLimits(
        max_forward_m=cap,
        max_turn_deg=min(cap * 36, 360.0),
        max_vertical_m=cap,
        default_forward_m=0.0,
        default_turn_deg=0.0,
        default_vertical_m=0.0,
    )
    unit = "°" if verb == "turn_left" else " m"
    phrase = verb.replace("_", " ")
    _check_invariants(f"<action>{phrase} {value!r}{unit}</action>", limits)
