"""The reasoner kinds, declared once for navigation and the arm: ``kind:target`` -> a Reasoner.

``transformers:PATH|ID``   a local Qwen2.5-VL-family model through transformers
``openai:URL[#MODEL]``     an OpenAI-compatible server (vLLM, SGLang, our ``policy_server``)
``scripted:FILE``          replies from a text file, one per line (a literal ``\\n`` is a newline),
                           in order, the last one repeated; ``reset()`` starts the script over

Each is a :class:`~r1_core.reasoner.PromptedReasoner` of the caller's prompt and a VLM backend, so
a scripted run exercises the same prompt, parsing and planning as a model. A package adds its own
kinds with :meth:`Registry.extended` (navigation adds ``expert``) and builds those itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from r1_core.backends import BACKENDS, make_backend
from r1_core.reasoner import PromptBuilder, PromptedReasoner, Reasoner
from r1_core.registry import Registry, split_spec


@dataclass(frozen=True)
class ReasonerKind:
    """One reasoner kind: what follows the colon, and how to build it from a prompt (None: the package does)."""

    target: str
    build: Callable[..., Reasoner] | None = None  # (target, prompt, **backend overrides) -> Reasoner

    @property
    def needs_target(self) -> bool:
        """Whether a ``kind:`` spec must name something after the colon."""
        return bool(self.target)


def _prompted(scheme: str) -> Callable[..., Reasoner]:
    def build(target: str, prompt: PromptBuilder, **overrides: Any) -> Reasoner:
        return PromptedReasoner(make_backend(f"{scheme}:{target}", **overrides), prompt)

    return build


#: The model-backed kinds every reasoning node accepts (one per VLM backend scheme).
MODEL_REASONERS: Registry[ReasonerKind] = Registry(
    "reasoner kind", [(name, ReasonerKind(b.target, _prompted(name))) for name, b in BACKENDS.items()])


def parse_reasoner_spec(spec: str, kinds: Registry[ReasonerKind] = MODEL_REASONERS, *,
                        field: str = "backend") -> tuple[str, str]:
    """``"kind:target"`` -> (kind, target), validated against ``kinds``; ParamError names ``field``."""
    kind, target, _ = split_spec(spec, kinds, field=field,
                                 targetless=[n for n, k in kinds.items() if not k.needs_target])
    return kind, target


def make_reasoner(spec: str, prompt: PromptBuilder, kinds: Registry[ReasonerKind] = MODEL_REASONERS, *,
                  field: str = "backend", **overrides: Any) -> Reasoner:
    """The Reasoner for ``spec`` with ``prompt``; kinds without a builder are refused (build those yourself).

    ``overrides`` go to the backend's constructor (``request_timeout_s`` for ``openai:``).
    """
    kind, target = parse_reasoner_spec(spec, kinds, field=field)
    build = kinds.get(kind).build
    if build is None:
        raise ValueError(f"reasoner kind '{kind}' is built by its package, not by r1_core.reasoners")
    return build(target, prompt, **overrides)


def reasoner_help(kinds: Registry[ReasonerKind] = MODEL_REASONERS) -> str:
    """``"expert | transformers:… | openai:… | scripted:…"`` for help texts and parameter descriptions."""
    return " | ".join(f"{n}:…" if k.needs_target else n for n, k in kinds.items())


__all__ = ["MODEL_REASONERS", "ReasonerKind", "make_reasoner", "parse_reasoner_spec", "reasoner_help"]
