"""VLM backends and the one factory that picks them from a spec string.

``make_backend("transformers:/models/nav-r1")`` loads a local model; ``make_backend(
"openai:http://gpu-host:8000/v1#nav-r1")`` talks to a served one.  Keyword overrides set the
backend's config fields by name and are validated like any other parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from r1_core.params import ParamError, from_mapping
from r1_core.reasoner import VLMBackend
from r1_core.registry import Registry, split_spec


def _transformers(target: str, overrides: dict[str, Any]) -> VLMBackend:
    from r1_core.backends.transformers_vlm import TransformersConfig, TransformersVLM

    config = from_mapping(TransformersConfig, {"model": target, **overrides}, what="transformers backend")
    return TransformersVLM(config)


def _openai(target: str, overrides: dict[str, Any]) -> VLMBackend:
    from r1_core.backends.openai_client import OpenAIChatVLM, OpenAIClientConfig

    base_url, _, model = target.partition("#")
    values: dict[str, Any] = {"base_url": base_url, **overrides}
    if model:
        values["model"] = model
    return OpenAIChatVLM(from_mapping(OpenAIClientConfig, values, what="openai backend"))


def _scripted(target: str, overrides: dict[str, Any]) -> VLMBackend:
    from r1_core.backends.scripted import ScriptedVLM

    if overrides:
        raise ParamError(f"the scripted backend takes no settings, got {sorted(overrides)}")
    return ScriptedVLM.from_file(target)


@dataclass(frozen=True)
class BackendKind:
    """One VLM backend scheme: how to build it and what the part after the colon is."""

    build: Callable[[str, dict[str, Any]], VLMBackend]
    target: str


BACKENDS: Registry[BackendKind] = Registry("backend", [
    ("transformers", BackendKind(_transformers, "a model directory or Hub id")),
    ("openai", BackendKind(_openai, "the server's API root, optionally '#model', e.g. http://host:8000/v1#nav-r1")),
    ("scripted", BackendKind(_scripted, "a text file of replies, one per line")),
])


def make_backend(spec: str, **overrides: Any) -> VLMBackend:
    """Build a backend from ``"scheme:target"``; unknown schemes fail naming the nearest one."""
    _, target, kind = split_spec(spec, BACKENDS)
    return kind.build(target, dict(overrides))


__all__ = ["BACKENDS", "BackendKind", "make_backend"]
