"""No function in src/ is longer than MAX_LINES: a long function is several named steps waiting to be split."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
#: From ``def`` to the last line, docstring and comments included. No allow-list: a flat table that
#: truly cannot be split belongs in a module-level constant, not a function body.
MAX_LINES = 60


def long_functions(source: str, max_lines: int = MAX_LINES) -> list[tuple[str, int, int]]:
    """(name, first line, length) of each function or method in ``source`` longer than ``max_lines``."""
    return sorted(((node.name, node.lineno, node.end_lineno - node.lineno + 1)
                   for node in ast.walk(ast.parse(source))
                   if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                   and node.end_lineno is not None and node.end_lineno - node.lineno + 1 > max_lines),
                  key=lambda found: found[1])


CODE = """\
class A:
    def short(self) -> None:
        pass

    def long(self) -> None:
        a = 1
        b = 2
        c = 3


async def outer() -> None:
    def inner() -> None:
        a = 1
        b = 2
        c = 3
"""


def test_the_scan_measures_methods_and_nested_functions() -> None:
    assert long_functions(CODE, max_lines=3) == [("long", 5, 4), ("outer", 11, 5), ("inner", 12, 4)]
    assert long_functions(CODE, max_lines=5) == []


def test_no_function_in_src_is_longer_than_the_limit() -> None:
    found = [f"{path.relative_to(SRC)}:{line} {name} ({length} lines)"
             for path in sorted(SRC.rglob("*.py"))
             for name, line, length in long_functions(path.read_text())]
    assert not found, f"split these into named helpers (at most {MAX_LINES} lines each):\n" + "\n".join(found)
