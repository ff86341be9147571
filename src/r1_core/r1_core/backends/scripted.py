"""A VLM backend that replies from a script: bring-up checks, failure drills and tests.

The robot side (parsing, planning, control) and the serving side (``policy_server --replies``)
run exactly as with a model, on replies known in advance.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

from r1_core.params import ParamError
from r1_core.reasoner import ChatMessage, Response


class ScriptedVLM:
    """Replies in order, the last one repeated; thread-safe."""

    def __init__(self, replies: Sequence[str], name: str = "scripted") -> None:
        if not replies:
            raise ParamError("a scripted backend needs at least one reply")
        self._replies = list(replies)
        self._next = 0
        self._lock = threading.Lock()
        self._name = name

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptedVLM:
        """One reply per non-empty line of a text file (a literal ``\\n`` stands for a newline).

        A file holding one JSON list of strings (vla_r1's former format) is refused with how to convert it.
        """
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as exc:
            raise ParamError(f"cannot read scripted replies from {p}: {exc}") from exc
        if _is_json_list(text):
            raise ParamError(f"scripted replies {p} hold a JSON list (the former vla_r1 format); write one reply "
                             "per line instead, with a literal \\n for a newline inside a reply")
        lines = text.splitlines()
        return cls([ln.replace("\\n", "\n") for ln in lines if ln.strip()], name=f"scripted:{p.name}")

    @property
    def name(self) -> str:
        """Reported as the model name."""
        return self._name

    def reset(self) -> None:
        """Start the script over (a new instruction or episode)."""
        with self._lock:
            self._next = 0

    def generate(self, messages: Sequence[ChatMessage]) -> Response:
        """The next scripted reply (the chat is not read)."""
        with self._lock:
            text = self._replies[min(self._next, len(self._replies) - 1)]
            self._next += 1
        return Response(text=text, model=self._name, timings={"total": 0.0})


def _is_json_list(text: str) -> bool:
    """True for a whole file that is one JSON list of strings (a reply line is never that)."""
    stripped = text.strip()
    if not stripped.startswith("["):
        return False
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError:
        return False
    return isinstance(data, list) and all(isinstance(x, str) for x in data)
