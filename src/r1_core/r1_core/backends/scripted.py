"""A VLM backend that replies from a script: bring-up checks, failure drills and tests.

The robot side (parsing, planning, control) and the serving side (``policy_server --replies``)
run exactly as with a model, on replies known in advance.
"""

from __future__ import annotations

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
        """One reply per non-empty line of a text file (a literal ``\\n`` stands for a newline)."""
        p = Path(path)
        try:
            lines = p.read_text().splitlines()
        except OSError as exc:
            raise ParamError(f"cannot read scripted replies from {p}: {exc}") from exc
        return cls([ln.replace("\\n", "\n") for ln in lines if ln.strip()], name=f"scripted:{p.name}")

    @property
    def name(self) -> str:
        """Reported as the model name."""
        return self._name

    def generate(self, messages: Sequence[ChatMessage]) -> Response:
        """The next scripted reply (the chat is not read)."""
        with self._lock:
            text = self._replies[min(self._next, len(self._replies) - 1)]
            self._next += 1
        return Response(text=text, model=self._name, timings={"total": 0.0})
