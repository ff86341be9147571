"""The scene tests import their shared world by module name from this folder."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
