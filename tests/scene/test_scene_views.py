"""View selection: greedy coverage, the optional relevance scorer, and scorer failures."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scene_world import tiny_frame

from nav_r1.scene.memory import KeyView, MemoryConfig, SceneMemory
from nav_r1.scene.views import select_views, visible_points


def _memory() -> SceneMemory:
    memory = SceneMemory(MemoryConfig(key_view_translation_m=0.1, key_view_rotation_deg=5.0))
    memory.add_frame(tiny_frame((0.0, 0.0, 1.2), (3.0, 0.0, 0.5))[0])      # 0: the cube
    memory.add_frame(tiny_frame((0.0, 0.15, 1.2), (3.0, 0.15, 0.5))[0])    # 1: almost the same view
    memory.add_frame(tiny_frame((0.0, 0.0, 1.2), (0.0, 3.0, 0.5))[0])      # 2: looking left, new floor
    return memory


def test_greedy_coverage_skips_a_redundant_view() -> None:
    memory = _memory()
    sel = select_views(memory.points(), memory.key_views(), k=2)
    assert set(sel.view_ids) == {2, 0} or set(sel.view_ids) == {2, 1}
    assert sel.gains[0] >= sel.gains[1] > 0
    assert "coverage only" in sel.note and sel.relevance is None
    everything = select_views(memory.points(), memory.key_views(), k=3)
    assert everything.coverage > sel.coverage - 1e-9 and everything.gains[2] < 0.05


def test_occluded_points_are_not_visible() -> None:
    memory = _memory()
    view = memory.key_views()[0]
    pts = np.array([[2.5, 0.0, 0.5], [1.5, 0.0, 0.6]])  # inside the cube (hidden) / in front of it (seen)
    seen = visible_points(pts, view)
    assert seen.tolist() == [1]


class _Prefers:
    def __init__(self, view_id: int) -> None:
        self.view_id = view_id

    def score(self, question: str, views: Sequence[KeyView]) -> Sequence[float]:
        return [1.0 if v.view_id == self.view_id else 0.0 for v in views]


class _Broken:
    def score(self, question: str, views: Sequence[KeyView]) -> Sequence[float]:
        raise RuntimeError("model not loaded")


def test_relevance_scorer_changes_the_pick_and_a_failing_scorer_falls_back() -> None:
    memory = _memory()
    plain = select_views(memory.points(), memory.key_views(), k=1)
    other = 1 if plain.view_ids[0] != 1 else 0
    scored = select_views(memory.points(), memory.key_views(), k=1, question="q", scorer=_Prefers(other),
                          relevance_weight=0.9)
    assert scored.view_ids == (other,) and scored.relevance == (1.0,)
    broken = select_views(memory.points(), memory.key_views(), k=1, scorer=_Broken())
    assert broken.view_ids == plain.view_ids and "view scorer failed: RuntimeError" in broken.note


def test_no_views_is_an_empty_selection() -> None:
    sel = select_views(np.zeros((0, 3)), [], k=4)
    assert sel.view_ids == () and sel.coverage == 0.0
