"""Scene rows as training data for the SFT/GRPO recipe, and the 3D-R1 rewards as TRL reward functions.

:func:`training_examples` turns a split into TRL's conversational prompt-completion form: a
``prompt`` (system prompt, earlier dialogue turns, then the row's views as image placeholders
labelled by view id and the question), a ``completion`` (the ``<think>…</think><answer>…</answer>``
target), ``images`` (file paths, in placeholder order) and the columns the rewards read (``task``,
``answer``, ``box_json``). Each dialogue turn becomes one example whose prompt carries the earlier
turns with their reference answers.

:func:`make_reward_funcs` returns functions with TRL's reward signature — ``f(completions, **columns)
-> list[float]``, completions as text or as a list of messages — for ``GRPOTrainer(reward_funcs=…)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nav_r1.scene.data import read_rows
from nav_r1.scene.reasoners import SYSTEM_PROMPT
from nav_r1.scene.rewards import TextEmbedder, format_reward, perception_reward, semantic_reward

RewardFunc = Callable[..., list[float]]


def _user(question: str, views: Sequence[int]) -> dict[str, Any]:
    parts: list[dict[str, str]] = []
    for v in views:
        parts += [{"type": "text", "text": f"View {v}:"}, {"type": "image"}]
    parts.append({"type": "text", "text": f"Question: {question}"})
    return {"role": "user", "content": parts}


def _text(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": [{"type": "text", "text": text}]}


def training_examples(data: Path, split: str) -> list[dict[str, Any]]:
    """Prompt-completion examples of one split (image paths absolute)."""
    out: list[dict[str, Any]] = []
    for row in read_rows(data, split):
        views = [int(v) for v in row.get("views", [])]
        images = [str((data / p).resolve()) for p in row.get("images", [])]
        box_json = json.dumps(row["box"]) if isinstance(row.get("box"), dict) else ""
        turns = row.get("turns") or [row]
        history: list[dict[str, Any]] = []
        for turn in turns:
            prompt = [_text("system", SYSTEM_PROMPT), *history, _user(str(turn["question"]), views)]
            out.append({"id": row["id"], "task": row["task"], "prompt": prompt,
                        "completion": [_text("assistant", str(turn["target"]))], "images": images,
                        "answer": str(turn["answer"]), "box_json": box_json if turn is row else ""})
            history += [_text("user", str(turn["question"])), _text("assistant", str(turn["answer"]))]
    return out


def completion_text(completion: Any) -> str:
    """The text of a TRL completion: a string, or a list of messages (string or typed-part content)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        content = completion[-1].get("content", "")
        if isinstance(content, list):
            return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        return str(content)
    return ""


def _column(kwargs: dict[str, Any], name: str, n: int) -> list[Any]:
    values = kwargs.get(name)
    return list(values) if isinstance(values, (list, tuple)) and len(values) == n else [None] * n


def make_reward_funcs(embedder: TextEmbedder | None = None) -> list[RewardFunc]:
    """[format, perception, semantic] reward functions (semantic only with an embedder); never raise."""

    def format_rewards(completions: Sequence[Any], **kwargs: Any) -> list[float]:
        return [format_reward(completion_text(c)) for c in completions]

    def perception_rewards(completions: Sequence[Any], **kwargs: Any) -> list[float]:
        boxes = _column(kwargs, "box_json", len(completions))
        out = []
        for c, box in zip(completions, boxes, strict=True):
            try:
                truth = json.loads(box) if isinstance(box, str) and box else None
            except json.JSONDecodeError:
                truth = None
            out.append(perception_reward(completion_text(c), truth) if isinstance(truth, dict) else 0.0)
        return out

    def semantic_rewards(completions: Sequence[Any], **kwargs: Any) -> list[float]:
        assert embedder is not None
        tasks = _column(kwargs, "task", len(completions))
        answers = _column(kwargs, "answer", len(completions))
        return [semantic_reward(completion_text(c), str(a), embedder) if t != "grounding" and isinstance(a, str)
                else 0.0 for c, t, a in zip(completions, tasks, answers, strict=True)]

    funcs: list[RewardFunc] = [format_rewards, perception_rewards]
    if embedder is not None:
        funcs.append(semantic_rewards)
    return funcs


__all__ = ["completion_text", "make_reward_funcs", "training_examples"]
