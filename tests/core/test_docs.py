"""Docs that are generated from code stay in step with it."""

from __future__ import annotations

from pathlib import Path

from nav_r1.cli import parameters_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_parameter_docs_match_the_declarations() -> None:
    doc = (ROOT / "docs" / "parameters.md").read_text()
    stale = "docs/parameters.md is stale: run `.venv/bin/nav-r1 params > docs/parameters.md`"
    assert doc == parameters_markdown(), stale
