"""Nav-R1 navigation: actions, the reply parser and the Nav-CoT prompt (no torch at import time)."""

from nav_r1.prompt import NavPrompt
from r1_core.nav.actions import NAV_R1_ACTION_SPACE, UAV_ACTION_SPACE, Action
from r1_core.nav.parse import ParseLimits, ParseResult, parse_response

__all__ = [
    "NAV_R1_ACTION_SPACE",
    "UAV_ACTION_SPACE",
    "Action",
    "NavPrompt",
    "ParseLimits",
    "ParseResult",
    "parse_response",
]
