"""Parse a navigation model's reply into reasoning and actions; never raises.

Accepted forms:

* Nav-R1: ``<think>…</think><action>turn left 30°</action>`` (also ``<answer>…</answer>``, alone
  or together with ``<action>``, as in the paper's RL figure).
* Several actions in one reply (Uni-NaVid / StreamVLN style): ``move forward 25cm, turn left 30°``,
  ``forward forward left stop`` (bare verbs take the default step sizes of :class:`ParseLimits`).
* NaVILA-style prose without tags: ``The next action is moving forward 75 cm.`` -- in prose a verb
  is required (``turn left``, not ``left``) so that "the chair on the left" is not an action.
* Units: cm / mm / m (and spelled out), ° / deg / degrees / rad / radians.
* A ``stop`` ends the plan: trailing repeated stops collapse into one; a motion after a stop is a
  contradiction and fails (``stop_not_last``) rather than ending the episode early.

Every failure is a :class:`ParseResult` with ``ok=False`` and a reason that starts with a short
code (``unclosed_tag:``, ``text_outside_tags:``, ``unknown_action:``, ``over_cap:`` …), so a node
can count failures by kind and still show the detail.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from r1_core.nav.actions import Action, ActionKind
from r1_core.params import ParamError, param, validate_params


@dataclass(frozen=True)
class ParseLimits:
    """Caps and defaults applied to every parsed reply."""

    # A forward step longer than this is treated as a model error, not executed.
    max_forward_m: float = param(3.0, "Largest forward step accepted from one action [m]", min=0.0, max=50.0)
    # Turns beyond a half turn are almost always hallucinated magnitudes.
    max_turn_deg: float = param(180.0, "Largest turn accepted from one action [deg]", min=0.0, max=360.0)
    max_vertical_m: float = param(2.0, "Largest ascend/descend step accepted [m]", min=0.0, max=50.0)
    max_actions: int = param(8, "Most actions accepted in one reply", min=1, max=64)
    # Long replies are truncated generations or prompt echoes; parsing them is wasted work.
    max_reply_chars: int = param(16384, "Longest reply parsed [characters]", min=16, max=1_000_000)
    # Bare verbs ("forward", "turn left") take Nav-R1's step sizes.
    default_forward_m: float = param(0.25, "Step for a forward action given without a distance [m]", min=0.0)
    default_turn_deg: float = param(30.0, "Turn for a turn action given without an angle [deg]", min=0.0)
    default_vertical_m: float = param(0.25, "Step for ascend/descend given without a distance [m]", min=0.0)
    require_think: bool = param(False, "Reject tagged replies without a <think> block")

    def __post_init__(self) -> None:
        validate_params(self)
        for default, cap in (
            ("default_forward_m", "max_forward_m"),
            ("default_turn_deg", "max_turn_deg"),
            ("default_vertical_m", "max_vertical_m"),
        ):
            if getattr(self, default) > getattr(self, cap):
                raise ParamError(
                    f"parameter '{default}' = {getattr(self, default)} exceeds '{cap}' = {getattr(self, cap)}"
                )


@dataclass(frozen=True)
class ParseResult:
    """The outcome of parsing one reply: reasoning, actions, an optional answer, or a failure."""

    ok: bool
    reasoning: str
    actions: tuple[Action, ...]
    answer: str | None
    failure: str | None

    @classmethod
    def fail(cls, reason: str, reasoning: str = "") -> ParseResult:
        """A failed parse carrying its reason (and whatever reasoning was recovered)."""
        return cls(ok=False, reasoning=reasoning, actions=(), answer=None, failure=reason)


class _ParseError(Exception):
    """Internal: aborts a parse with a reason; never escapes :func:`parse_response`."""


_TAGS = ("think", "action", "answer")
# Loose on purpose: catches "<action >", "< /think>", "</action" so malformed tags are reported
# instead of being treated as prose.
_TAG_RE = re.compile(r"<\s*(/?)\s*(think|action|answer)\b([^<>]*)(>?)", re.IGNORECASE)
# End-of-turn tokens some servers leave in the text; harmless when trailing.
_TRAILING_SPECIALS = re.compile(r"(?:\s*(?:<\|im_end\|>|<\|endoftext\|>|</s>))+\s*$")

_NUMBER = r"[-+\u2212]?[ \t]*(?:nan|inf(?:inity)?|(?:\d+(?:\.\d+)?|\.\d+)(?:e[-+]?\d+)?)"
_UNIT = (
    r"centimet(?:er|re)s?|millimet(?:er|re)s?|met(?:er|re)s?|cm|mm|m"
    r"|degrees?|degs?|°|º|radians?|rads?"
)
_MOVE = (
    r"(?:move|moves|moving|go|goes|going|walk|walks|walking|drive|drives|driving|step|steps|stepping"
    r"|advance|advances|advancing|fly|flies|flying|head|heading)"
)
_TURN = r"(?:turn|turns|turning|rotate|rotates|rotating|yaw|yaws|yawing)"
_VERTICAL_UP = (
    rf"(?:ascend|ascends|ascending|rise|rises|rising|climb|climbs|climbing|{_MOVE}[\s_]+up(?:wards?)?)"
)
_VERTICAL_DOWN = rf"(?:descend|descends|descending|sink|sinks|sinking|{_MOVE}[\s_]+down(?:wards?)?)"
_STOP = r"(?:stop|stops|stopping|halt)"
# A magnitude stays on the verb's line, so a list marker below is not one ("turn left\n2. stop").
_MAGNITUDE = (
    rf"(?:[ \t]*(?:by|for|about|around)?[ \t]*(?P<num>{_NUMBER})"
    rf"[ \t]*(?P<unit>{_UNIT})?(?![a-z]))?"
)


def _action_regex(bare_ok: bool) -> re.Pattern[str]:
    # "[\s_]" also reads Habitat's action names (MOVE_FORWARD, TURN_LEFT).
    fwd_verb = rf"(?:{_MOVE}[\s_]+)" + ("?" if bare_ok else "")
    turn_verb = rf"(?:{_TURN}[\s_]+(?:to\s+(?:the\s+)?)?)" + ("?" if bare_ok else "")
    return re.compile(
        rf"(?:(?P<forward>{fwd_verb}(?:forwards?|ahead|straight(?:\s+ahead)?))"
        rf"|(?P<turn>{turn_verb}(?P<side>left|right))"
        rf"|(?P<up>{_VERTICAL_UP})|(?P<down>{_VERTICAL_DOWN})|(?P<stop>{_STOP}))\b{_MAGNITUDE}",
        re.IGNORECASE,
    )


# Inside <action> every word must be an action, so bare verbs are safe; in prose they are not.
_ACTION_IN_TAG = _action_regex(bare_ok=True)
_ACTION_IN_PROSE = _action_regex(bare_ok=False)
_SEPARATORS = re.compile(
    r"(?:[\s,;.:\[\]()\"'`•*]|->|→|-(?=\s)|\d+[.)](?=\s)|\b(?:and|then|next|finally)\b)*", re.IGNORECASE
)
_WORD = re.compile(r"\S+(?:\s+\S+){0,3}")

_DIST_SCALE = {"cm": 0.01, "mm": 0.001, "m": 1.0}


def _unit_kind(unit: str) -> tuple[str, float]:
    """('distance', metres per unit) or ('angle', degrees per unit)."""
    u = unit.lower()
    if u in ("°", "º") or u.startswith("deg"):
        return "angle", 1.0
    if u.startswith("rad"):
        return "angle", math.degrees(1.0)
    if u.startswith("centi") or u == "cm":
        return "distance", _DIST_SCALE["cm"]
    if u.startswith("milli") or u == "mm":
        return "distance", _DIST_SCALE["mm"]
    return "distance", _DIST_SCALE["m"]


# kind -> (unit kind, default field, cap field) of ParseLimits
_KIND_LIMITS: dict[str, tuple[str, str, str]] = {
    "forward": ("distance", "default_forward_m", "max_forward_m"),
    "turn_left": ("angle", "default_turn_deg", "max_turn_deg"),
    "turn_right": ("angle", "default_turn_deg", "max_turn_deg"),
    "up": ("distance", "default_vertical_m", "max_vertical_m"),
    "down": ("distance", "default_vertical_m", "max_vertical_m"),
}


def _kind_of(m: re.Match[str]) -> ActionKind:
    if m.group("forward"):
        return "forward"
    if m.group("turn"):
        return "turn_left" if m.group("side").lower() == "left" else "turn_right"
    if m.group("up"):
        return "up"
    if m.group("down"):
        return "down"
    return "stop"


def _action_from_match(m: re.Match[str], limits: ParseLimits) -> Action:
    phrase = " ".join(m.group(0).split())
    kind = _kind_of(m)
    if kind == "stop":
        if m.group("num") is not None:
            raise _ParseError(f"bad_magnitude: 'stop' takes no magnitude in '{phrase}'")
        return Action("stop")
    want, default_field, cap_name = _KIND_LIMITS[kind]
    default: float = getattr(limits, default_field)
    cap: float = getattr(limits, cap_name)
    num, unit = m.group("num"), m.group("unit")
    if num is None:
        return Action(kind, default)
    if unit is None:
        raise _ParseError(f"missing_unit: magnitude without a unit in '{phrase}'")
    try:
        value = float(num.replace("\u2212", "-").replace(" ", ""))
    except ValueError:
        raise _ParseError(f"bad_magnitude: cannot read the number in '{phrase}'") from None
    if not math.isfinite(value):
        raise _ParseError(f"bad_magnitude: non-finite magnitude in '{phrase}'")
    if value < 0.0:
        raise _ParseError(f"bad_magnitude: negative magnitude in '{phrase}'")
    got, scale = _unit_kind(unit)
    if got != want:
        raise _ParseError(f"wrong_unit: {kind} needs a {want} unit, got '{unit}' in '{phrase}'")
    value *= scale
    if not math.isfinite(value) or value > cap:
        shown = f"{value:g} {'m' if want == 'distance' else 'deg'}"
        raise _ParseError(f"over_cap: '{phrase}' is {shown}, above {cap_name}={cap:g}")
    return Action(kind, value)


def _parse_action_list(text: str, limits: ParseLimits) -> tuple[Action, ...]:
    """Every word of ``text`` must belong to an action; separators and connectives are skipped."""
    actions: list[Action] = []
    pos = 0
    while True:
        sep = _SEPARATORS.match(text, pos)
        pos = sep.end() if sep else pos
        if pos >= len(text):
            break
        m = _ACTION_IN_TAG.match(text, pos)
        if m is None:
            word = _WORD.match(text, pos)
            snippet = word.group(0) if word else text[pos : pos + 30]
            raise _ParseError(f"unknown_action: cannot read '{snippet[:60]}' as an action")
        actions.append(_action_from_match(m, limits))
        if len(actions) > limits.max_actions:
            raise _ParseError(f"too_many_actions: more than max_actions={limits.max_actions}")
        pos = m.end()
    if not actions:
        raise _ParseError("no_action: the action block is empty")
    return _end_at_stop(actions)


def _end_at_stop(actions: list[Action]) -> tuple[Action, ...]:
    """A stop ends the plan: repeated stops collapse, a motion after a stop is a contradiction."""
    if not any(a.kind == "stop" for a in actions):
        return tuple(actions)
    first = next(i for i, a in enumerate(actions) if a.kind == "stop")
    after = [a for a in actions[first + 1 :] if a.kind != "stop"]
    if after:
        raise _ParseError(f"stop_not_last: '{after[0].to_text()}' comes after 'stop'")
    return tuple(actions[: first + 1])


def _parse_prose(text: str, limits: ParseLimits) -> ParseResult:
    """NaVILA-style free text: find the action phrases in order."""
    actions: list[Action] = []
    for m in _ACTION_IN_PROSE.finditer(text):
        actions.append(_action_from_match(m, limits))
        if len(actions) > limits.max_actions:
            raise _ParseError(f"too_many_actions: more than max_actions={limits.max_actions}")
    if not actions:
        raise _ParseError("no_action: no <action> tag and no action phrase in the reply")
    return ParseResult(ok=True, reasoning=text.strip(), actions=_end_at_stop(actions), answer=None, failure=None)


def _split_blocks(text: str) -> dict[str, str]:
    """Split a tagged reply into its blocks; anything else is a malformed or injected reply."""
    blocks: dict[str, str] = {}
    order: list[str] = []
    pos = 0
    tags = list(_TAG_RE.finditer(text))
    i = 0
    while i < len(tags):
        opening = tags[i]
        outside = text[pos : opening.start()].strip()
        if outside:
            raise _ParseError(f"text_outside_tags: '{outside[:60]}' before <{opening.group(2).lower()}>")
        _check_tag_shape(opening)
        name = opening.group(2).lower()
        if opening.group(1):
            raise _ParseError(f"unopened_tag: </{name}> without a matching <{name}>")
        if name in blocks:
            raise _ParseError(f"duplicate_tag: more than one <{name}> block")
        if i + 1 >= len(tags):
            raise _ParseError(f"unclosed_tag: <{name}> is never closed")
        closing = tags[i + 1]
        _check_tag_shape(closing)
        if not closing.group(1) or closing.group(2).lower() != name:
            raise _ParseError(
                f"nested_tag: <{'/' if closing.group(1) else ''}{closing.group(2).lower()}> inside <{name}>"
            )
        blocks[name] = text[opening.end() : closing.start()].strip()
        order.append(name)
        pos = closing.end()
        i += 2
    outside = text[pos:].strip()
    if outside:
        raise _ParseError(f"text_outside_tags: '{outside[:60]}' after the last tag")
    if "think" in blocks and order[0] != "think":
        raise _ParseError("tag_order: <think> must come before <action>/<answer>")
    return blocks


def _check_tag_shape(tag: re.Match[str]) -> None:
    if tag.group(3).strip() or not tag.group(4):
        raise _ParseError(f"malformed_tag: '{tag.group(0)[:40]}'")


def _parse_tagged(text: str, limits: ParseLimits) -> ParseResult:
    blocks = _split_blocks(text)
    reasoning = blocks.get("think", "")
    if limits.require_think and "think" not in blocks:
        raise _ParseError("missing_tag: no <think> block")
    answer = blocks.get("answer")
    if "action" in blocks:
        actions = _parse_action_list(blocks["action"], limits)
        return ParseResult(ok=True, reasoning=reasoning, actions=actions, answer=answer, failure=None)
    if answer is None:
        raise _ParseError("missing_tag: no <action> or <answer> block")
    # An answer-only reply is a QA answer, unless the answer itself is a list of actions (some
    # Nav-R1 checkpoints put the action there).
    try:
        actions = _parse_action_list(answer, limits)
    except _ParseError:
        actions = ()
    return ParseResult(ok=True, reasoning=reasoning, actions=actions, answer=answer, failure=None)


def parse_response(text: str, limits: ParseLimits | None = None) -> ParseResult:
    """Parse a model reply into reasoning, actions and answer; malformed replies are failures."""
    lim = limits if limits is not None else _DEFAULT_LIMITS
    if not isinstance(text, str):
        return ParseResult.fail(f"not_text: expected a string reply, got {type(text).__name__}")
    if len(text) > lim.max_reply_chars:
        return ParseResult.fail(
            f"too_long: {len(text)} characters, above max_reply_chars={lim.max_reply_chars}"
        )
    body = _TRAILING_SPECIALS.sub("", text)
    if not body.strip():
        return ParseResult.fail("empty: the reply is empty")
    try:
        if _TAG_RE.search(body):
            return _parse_tagged(body, lim)
        try:  # an untagged reply that is only actions ("forward forward left stop")
            actions = _parse_action_list(body, lim)
            return ParseResult(ok=True, reasoning="", actions=actions, answer=None, failure=None)
        except _ParseError as exc:
            if not str(exc).startswith("unknown_action"):
                raise
        return _parse_prose(body, lim)
    except _ParseError as exc:
        return ParseResult.fail(str(exc), reasoning=_recover_reasoning(body))
    except Exception as exc:  # the parser's contract is never to raise; report the bug instead
        return ParseResult.fail(f"internal_error: {type(exc).__name__}: {exc}")


def _recover_reasoning(text: str) -> str:
    m = re.search(r"<think>(.*?)</think>", text, re.IGNORECASE | re.DOTALL)
    return m.group(1).strip() if m else ""


_DEFAULT_LIMITS = ParseLimits()
