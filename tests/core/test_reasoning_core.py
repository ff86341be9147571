"""The reasoning core's typed status, its bounds on model text, and its busy state (methods, not a flag)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nav_r1.reasoning import ReasoningConfig, ReasoningCore
from r1_core.reasoner import Frame, Pose2D, Response
from r1_core.reasoning_status import ReasoningState, ReasoningStatus, StatusError, bounded_text

REPLY = "<think>clear</think><action>move forward 25cm</action>"


def _ready_core(**cfg) -> ReasoningCore:
    core = ReasoningCore(ReasoningConfig(**cfg))
    assert core.set_instruction("go ahead", 0.0)
    core.on_frame(Frame(rgb=np.zeros((4, 4, 3), np.uint8), stamp=1.0))
    core.on_odom(Pose2D(0.0, 0.0, 0.0), 0.0, 1.0)
    return core


def test_a_reply_becomes_a_typed_status_that_round_trips_through_json() -> None:
    core = _ready_core()
    obs = core.observe(1.0)
    assert obs.generation == core.generation and "generation" not in obs.extra
    out = core.on_reply(obs, Response(REPLY, "m", {"total": 0.1}), 1.2)
    assert out is not None and out.publish_plan
    st = out.status
    assert st.state is ReasoningState.PLANNED and st.actions == ("move forward 25cm",) and st.plan_id == 1
    back = ReasoningStatus.from_json(st.to_json())
    assert back == st
    # Recorded bags carry these keys: the JSON keeps them.
    assert {"state", "stamp", "instruction", "raw", "timings", "actions", "error", "plan_id", "stop",
            "failures", "obs_stamp"} <= set(json.loads(st.to_json()))


def test_a_huge_reply_is_bounded_in_the_status() -> None:
    core = _ready_core(status_text_chars=1000)
    huge = "<think>" + "x" * 10_000_000 + "</think><action>stop</action>"
    out = core.on_reply(core.observe(1.0), Response(huge, "m"), 1.1)
    assert out is not None
    assert len(out.status.raw) < 1100
    assert out.status.raw.endswith(f"[truncated {len(huge) - 1000} of {len(huge)} chars]")
    assert len(out.status.reasoning) < 1100
    assert len(out.status.to_json()) < 4000


def test_busy_is_claimed_and_released_by_methods() -> None:
    core = _ready_core()
    assert core.blocked_reason(1.0) is None
    obs = core.observe(1.0)
    assert core.busy and core.blocked_reason(1.0) == "busy"
    assert not core.begin_probe()  # no probe while a reply is in flight
    core.on_reply(obs, Response.failure("m", "no complete reply within the request deadline of 15 s"), 2.0)
    assert not core.busy
    assert core.begin_probe() and core.busy  # probes resume once the failed reply is in
    out = core.end_probe("server unreachable", 2.5)
    assert not core.busy and out is not None and out.status.state is ReasoningState.HOLDING
    with pytest.raises(AttributeError):
        core.busy = False  # type: ignore[misc]


def test_a_failed_request_is_a_failed_status() -> None:
    core = _ready_core()
    out = core.on_reply(core.observe(1.0), Response.failure("m", "no complete reply within the request deadline"), 2.0)
    assert out is not None and not out.publish_plan
    assert out.status.state is ReasoningState.FAILED and out.status.failures == 1
    assert "deadline" in (out.status.error or "")


def test_a_reply_for_a_superseded_instruction_is_dropped() -> None:
    core = _ready_core()
    obs = core.observe(1.0)
    core.set_instruction("turn around", 1.1)
    assert core.on_reply(obs, Response(REPLY, "m"), 1.2) is None and not core.busy


@pytest.mark.parametrize(("text", "match"), [
    ("[1, 2]", "must be a JSON object"),
    ("{not json", "not JSON"),
    ('{"state": "thinking", "stamp": 1.0}', "'state' = 'thinking'"),
    ('{"state": "planned", "stamp": "soon"}', "'stamp' must be a finite number"),
    ('{"state": "planned", "stamp": 1.0, "stop": "yes"}', "'stop' must be true or false"),
    ('{"state": "planned", "stamp": 1.0, "actions": [1]}', "'actions' must be a list of strings"),
    ('{"state": "planned", "stamp": 1.0, "timings": {"total": "x"}}', "'timings' must map names to numbers"),
])
def test_malformed_status_names_the_field(text: str, match: str) -> None:
    with pytest.raises(StatusError, match=match):
        ReasoningStatus.from_json(text)


def test_bounded_text_keeps_short_text() -> None:
    assert bounded_text("abc", 3) == "abc"
    assert bounded_text("abcd", 3) == "abc...[truncated 1 of 4 chars]"
