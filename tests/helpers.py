"""Helpers shared by the test tiers (imported as ``helpers``; tests/conftest.py puts tests/ on the path)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(cond: Callable[[], object], timeout: float, what: str | None = None) -> bool:
    """Poll ``cond`` every 10 ms until it holds (True) or ``timeout`` s pass (False).

    With ``what``, a timeout fails the test with ``timed out waiting for <what>`` instead.
    """
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    if what is not None:
        raise AssertionError(f"timed out waiting for {what}")
    return False
