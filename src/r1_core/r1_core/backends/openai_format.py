"""Convert between our :class:`ChatMessage` and the OpenAI chat-completions message schema."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from r1_core.backends.images import decode_data_url, png_data_url
from r1_core.reasoner import ChatMessage, ImageArray, Role

_ROLES: tuple[Role, ...] = ("system", "user", "assistant")


def chat_dicts(messages: Sequence[ChatMessage], image_part: Callable[[ImageArray], dict[str, Any]]
               ) -> list[dict[str, Any]]:
    """Our chat as role/content dicts: text-only turns as strings, others as content parts.

    The common shape of the OpenAI schema and Hugging Face chat templates; ``image_part`` makes the
    part of each image (a data URL, or a placeholder whose image is collected aside).
    """
    out: list[dict[str, Any]] = []
    for msg in messages:
        if not msg.images():
            out.append({"role": msg.role, "content": msg.text()})
            continue
        parts = [{"type": "text", "text": part} if isinstance(part, str) else image_part(part)
                 for part in msg.content]
        out.append({"role": msg.role, "content": parts})
    return out


def to_openai_messages(
    messages: Sequence[ChatMessage], encode: Callable[[ImageArray], str] = png_data_url
) -> list[dict[str, Any]]:
    """Our chat as OpenAI messages: text-only turns as strings, others as content parts."""
    return chat_dicts(messages, lambda im: {"type": "image_url", "image_url": {"url": encode(im)}})


def from_openai_messages(raw: Any, max_images: int = 32) -> list[ChatMessage]:
    """Parse OpenAI request messages; raise ValueError naming the first bad field."""
    if not isinstance(raw, list) or not raw:
        raise ValueError("'messages' must be a non-empty list")
    out: list[ChatMessage] = []
    n_images = 0
    for i, msg in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise ValueError(f"{where} must be an object")
        role = msg.get("role")
        if role not in _ROLES:
            raise ValueError(f"{where}.role must be one of {list(_ROLES)}, got {role!r}")
        content = msg.get("content")
        parts: list[str | ImageArray] = []
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            for j, part in enumerate(content):
                parts.append(_parse_part(part, f"{where}.content[{j}]"))
        else:
            raise ValueError(f"{where}.content must be a string or a list of parts")
        n_images += sum(1 for p in parts if not isinstance(p, str))
        if n_images > max_images:
            raise ValueError(f"too many images in one request (more than {max_images})")
        out.append(ChatMessage(role=role, content=tuple(parts)))
    return out


def _parse_part(part: Any, where: str) -> str | ImageArray:
    if not isinstance(part, dict):
        raise ValueError(f"{where} must be an object")
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        if not isinstance(text, str):
            raise ValueError(f"{where}.text must be a string")
        return text
    if kind == "image_url":
        image_url = part.get("image_url")
        url = image_url.get("url") if isinstance(image_url, dict) else image_url
        if not isinstance(url, str):
            raise ValueError(f"{where}.image_url.url must be a string")
        try:
            return decode_data_url(url)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    raise ValueError(f"{where}.type must be 'text' or 'image_url', got {kind!r}")
