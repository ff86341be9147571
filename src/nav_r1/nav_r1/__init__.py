"""Nav-R1 navigation's public names: actions and reply parser (from r1_core.nav), the Nav-CoT prompt."""

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
