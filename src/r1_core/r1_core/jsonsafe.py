"""Decoding model text as JSON without letting the text choose the decoder's recursion depth.

``json.loads`` recurses once per nesting level, so 5,000 nested brackets in a model reply raise
``RecursionError`` — not a ``ValueError`` — out of any parser built on it. Every place that decodes
model text (or any other untrusted text) as JSON goes through :func:`loads_bounded`, which measures
the nesting first in one linear pass and refuses deep documents with a ``json.JSONDecodeError``
naming the depth, so callers handle it like any other malformed reply.
"""

from __future__ import annotations

import json
from typing import Any

#: Deepest nesting accepted by default; real replies (a box, a list of points) nest 2-3 levels.
MAX_DEPTH = 32
#: Longest text accepted by default (characters); a reply's JSON body is a few hundred.
MAX_CHARS = 1_000_000


def nesting_depth(text: str) -> int:
    """The deepest ``[``/``{``/``(`` nesting of ``text``, brackets inside string literals included.

    Counting every bracket over-estimates the decoder's depth (never under-estimates it, whatever
    quotes the text plays with, including the single-to-double quote repair parsers apply).
    """
    depth = deepest = 0
    for ch in text:
        if ch in "[{(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]})":
            depth = max(0, depth - 1)
    return deepest


def check_bounds(text: str, max_depth: int = MAX_DEPTH, max_chars: int = MAX_CHARS) -> None:
    """Raise ``json.JSONDecodeError`` when ``text`` is longer or nests deeper than allowed."""
    if len(text) > max_chars:
        raise json.JSONDecodeError(f"text of {len(text)} characters is over the {max_chars} allowed", text[:64], 0)
    depth = nesting_depth(text)
    if depth > max_depth:
        raise json.JSONDecodeError(f"nesting depth {depth} is over the {max_depth} allowed", text[:64], 0)


def loads_bounded(text: str, max_depth: int = MAX_DEPTH, max_chars: int = MAX_CHARS) -> Any:
    """``json.loads`` that raises only ``json.JSONDecodeError`` (never ``RecursionError``) on hostile text."""
    check_bounds(text, max_depth, max_chars)
    return json.loads(text)


__all__ = ["MAX_CHARS", "MAX_DEPTH", "check_bounds", "loads_bounded", "nesting_depth"]
