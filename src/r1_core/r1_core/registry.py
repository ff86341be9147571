"""A registry of named entries declared once: duplicates are refused, a typo gets the nearest name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

from r1_core.params import ParamError

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name, in declaration order (robots, reasoner kinds...)."""

    def __init__(self, what: str, entries: Iterable[tuple[str, T]] = ()) -> None:
        self.what = what
        self._entries: dict[str, T] = {}
        for name, value in entries:
            self.register(name, value)

    def register(self, name: str, value: T) -> None:
        """Add ``name``; a second entry of the same name is a programming error (ValueError)."""
        if not name or name != name.strip():
            raise ValueError(f"{self.what} name {name!r} must be non-empty without surrounding spaces")
        if name in self._entries:
            raise ValueError(f"{self.what} '{name}' is registered twice")
        self._entries[name] = value

    @property
    def names(self) -> tuple[str, ...]:
        """Every name, in declaration order."""
        return tuple(self._entries)

    def hint(self, name: str) -> str:
        """``"; did you mean 'x'?"`` for the nearest name, or ``""``."""
        near = difflib.get_close_matches(name, self.names, n=1)
        return f"; did you mean '{near[0]}'?" if near else ""

    def get(self, name: str, *, field: str = "") -> T:
        """The entry of ``name``; ParamError prefixed by ``field``, with the nearest name and every valid one."""
        if name not in self._entries:
            where = f"{field}: " if field else ""
            raise ParamError(f"{where}unknown {self.what} '{name}'{self.hint(name)} (one of {', '.join(self.names)})")
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def extended(self, entries: Iterable[tuple[str, T]]) -> Registry[T]:
        """A new registry: these entries plus ``entries`` (a duplicate name is refused)."""
        return Registry(self.what, [*self.items(), *entries])

    def items(self) -> Iterator[tuple[str, T]]:
        """(name, entry) pairs in declaration order."""
        return iter(self._entries.items())


def split_spec(spec: str, kinds: Registry[T], *, field: str = "backend",
               targetless: Iterable[str] = ()) -> tuple[str, str, T]:
    """``"kind:target"`` -> (kind, target, entry): the one parser of every ``kind:target`` string.

    Kinds in ``targetless`` take nothing after the colon; every other kind needs a target.
    """
    kind, _, target = spec.partition(":")
    kind, target = kind.strip(), target.strip()
    entry = kinds.get(kind, field=f"parameter '{field}' = {spec!r}")
    if kind not in set(targetless) and not target:
        raise ParamError(f"parameter '{field}' = {spec!r}: '{kind}' needs a target after ':'")
    return kind, target, entry


__all__ = ["Registry", "split_spec"]
