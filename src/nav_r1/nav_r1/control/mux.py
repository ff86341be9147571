"""Velocity multiplexer with twist_mux semantics: prioritised inputs with timeouts, Bool locks.

An input is active while its last message is younger than its timeout; the active input with the
highest priority wins.  An engaged lock masks every input with a priority at or below its own
(twist_mux's rule).  A lock engages when its last value was true or, if it has a timeout, when it
has been silent that long (also before its first message: a lock with a timeout fails safe).
Navigation, the plan follower, is an input that is always active at its own priority.
"""

from __future__ import annotations

from dataclasses import dataclass

from nav_r1.control.config import MuxConfig
from nav_r1.control.types import Twist

NAVIGATION = "navigation"


@dataclass
class _Input:
    priority: int
    timeout: float
    twist: Twist | None = None
    stamp: float = -1.0


@dataclass
class _Lock:
    priority: int
    timeout: float
    value: bool = False
    stamp: float | None = None


@dataclass(frozen=True)
class Selection:
    """The winning input (a teleop name or ``navigation``) and its twist, or the lock that masks all."""

    source: str | None
    twist: Twist | None
    lock: str | None


class TwistMux:
    """Selects between teleop inputs and navigation; pure (time is passed in)."""

    def __init__(self, cfg: MuxConfig) -> None:
        self.nav_priority = cfg.navigation_priority
        self.inputs = {
            n: _Input(p, t)
            for n, p, t in zip(cfg.input_names, cfg.input_priorities, cfg.input_timeouts, strict=True)
        }
        self.locks = {
            n: _Lock(p, t) for n, p, t in zip(cfg.lock_names, cfg.lock_priorities, cfg.lock_timeouts, strict=True)
        }

    def on_input(self, name: str, twist: Twist, now: float) -> None:
        """A velocity message on input ``name``."""
        inp = self.inputs.get(name)
        if inp is None:
            raise ValueError(f"unknown mux input {name!r}; configured inputs are {list(self.inputs)}")
        inp.twist, inp.stamp = twist, now

    def on_lock(self, name: str, engaged: bool, now: float) -> None:
        """A Bool message on lock ``name``."""
        lock = self.locks.get(name)
        if lock is None:
            raise ValueError(f"unknown mux lock {name!r}; configured locks are {list(self.locks)}")
        lock.value, lock.stamp = bool(engaged), now

    def is_active(self, name: str, now: float) -> bool:
        """Whether teleop input ``name`` has a message younger than its timeout."""
        inp = self.inputs[name]
        return inp.twist is not None and now - inp.stamp <= inp.timeout

    def _lock_engaged(self, lock: _Lock, now: float) -> bool:
        if lock.value:
            return True
        if lock.timeout > 0.0:
            return lock.stamp is None or now - lock.stamp > lock.timeout
        return False

    def select(self, now: float) -> Selection:
        """The input that drives the robot now (``twist`` is None for navigation: the caller computes it)."""
        top_lock: str | None = None
        lock_priority = -1
        for name, lock in self.locks.items():
            if lock.priority > lock_priority and self._lock_engaged(lock, now):
                top_lock, lock_priority = name, lock.priority
        best: str | None = None
        best_priority = lock_priority
        for name, inp in self.inputs.items():
            if inp.priority > best_priority and self.is_active(name, now):
                best, best_priority = name, inp.priority
        if self.nav_priority > best_priority:
            return Selection(NAVIGATION, None, None)
        if best is None:
            return Selection(None, None, top_lock)
        return Selection(best, self.inputs[best].twist, None)

    def reset(self) -> None:
        """Forget every message."""
        for inp in self.inputs.values():
            inp.twist, inp.stamp = None, -1.0
        for lock in self.locks.values():
            lock.value, lock.stamp = False, None
