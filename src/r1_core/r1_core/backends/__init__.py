"""VLM backends and the one factory that picks them from a spec string.

``make_backend("transformers:/models/nav-r1")`` loads a local model; ``make_backend(
"openai:http://gpu-host:8000/v1#nav-r1")`` talks to a served one.  Keyword overrides set the
backend's config fields by name and are validated like any other parameter.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from r1_core.params import ParamError, from_mapping
from r1_core.reasoner import VLMBackend


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


#: scheme -> (factory, what the part after the colon is)
BACKENDS: dict[str, tuple[Callable[[str, dict[str, Any]], VLMBackend], str]] = {
    "transformers": (_transformers, "a model directory or Hub id"),
    "openai": (_openai, "the server's API root, optionally '#model', e.g. http://host:8000/v1#nav-r1"),
    "scripted": (_scripted, "a text file of replies, one per line"),
}


def make_backend(spec: str, **overrides: Any) -> VLMBackend:
    """Build a backend from ``"scheme:target"``; unknown schemes fail naming the nearest one."""
    scheme, sep, target = spec.partition(":")
    if scheme not in BACKENDS:
        near = difflib.get_close_matches(scheme, list(BACKENDS), n=1)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        raise ParamError(f"unknown backend '{scheme}' in '{spec}'{hint} (known: {', '.join(BACKENDS)})")
    factory, what = BACKENDS[scheme]
    if not sep or not target:
        raise ParamError(f"backend spec '{spec}' needs a target after '{scheme}:': {what}")
    return factory(target, dict(overrides))


__all__ = ["BACKENDS", "make_backend"]
