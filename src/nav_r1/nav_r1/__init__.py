"""Nav-R1 navigation: actions, the reply parser and the Nav-CoT prompt (no torch at import time)."""

from nav_r1.actions import NAV_R1_ACTION_SPACE, UAV_ACTION_SPACE, Action
from nav_r1.parse import ParseLimits, ParseResult, parse_response
from nav_r1.prompt import NavPrompt

__all__ = [
    "NAV_R1_ACTION_SPACE",
    "UAV_ACTION_SPACE",
    "Action",
    "NavPrompt",
    "ParseLimits",
    "ParseResult",
    "parse_response",
]
