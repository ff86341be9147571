"""bench/bench_scene_recipe.py's own helpers on a tiny dataset: the format-valid share, the table row, the corpus.

The bench itself (training and generation) does not run here; these are the figures it adds on
top of ``nav-r1 scene-eval``'s report, checked against reasoners whose answers are known.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from nav_r1.scene.data import DataConfig, read_rows, write_dataset
from nav_r1.scene.evaluate import SceneStore, evaluate
from nav_r1.scene.reasoners import SYSTEM_PROMPT, ExpertReasoner, SceneQuery

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_scene_recipe.py"
CFG = DataConfig(scenes=3, seed=2, views_per_room=1, views_per_row=2, width=48, height=36, min_rooms=2, max_rooms=2,
                 val_fraction=0.0, test_fraction=0.34)


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_scene_recipe", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scene_bench")
    write_dataset(out, CFG)
    return out


class _Tagless:
    """Answers the right words without the tags (parses as prose, but is not a well-formed reply)."""

    name = "tagless"
    privileged = True

    def __init__(self, expert: ExpertReasoner) -> None:
        self._expert = expert

    def reply(self, query: SceneQuery) -> str:
        text = self._expert.reply(query)
        return text.split("<answer>", 1)[1].removesuffix("</answer>")

    def reset(self) -> None:
        """Stateless."""


class _Failing:
    """A reasoner whose every call raises (a model server that is down)."""

    name = "failing"
    privileged = False

    def reply(self, query: SceneQuery) -> str:
        raise RuntimeError("down")

    def reset(self) -> None:
        """Stateless."""


def _replies(rows: list[dict[str, Any]]) -> int:
    return sum(len(r["turns"]) if r["task"] == "dialogue" else 1 for r in rows)


def test_format_valid_share_and_table_row(bench: ModuleType, data: Path, tmp_path: Path) -> None:
    expert = ExpertReasoner(SceneStore(data).scene)
    n = _replies(read_rows(data, "test"))
    rows = []
    for label, reasoner, valid in (("expert", expert, 1.0), ("tagless", _Tagless(expert), 0.0),
                                   ("failing", _Failing(), 0.0)):
        recorder = bench.RecordingReasoner(reasoner)
        assert recorder.privileged == reasoner.privileged  # the evaluator's privilege gate sees the inner one
        report = evaluate(data, "test", recorder, tmp_path / label, pictures=0)
        row = bench.summarize(label, "x", report, recorder.formats, 12.3)
        assert row["replies"] == n and row["format_valid"] == valid, label
        assert row["qa_em"] == report["tasks"]["qa"]["em"] and row["train_s"] == 12.3
        rows.append(row)
    # The tagless answers are the expert's words: exact match still counts them, the format share does not.
    assert rows[0]["qa_em"] == rows[1]["qa_em"] == 1.0 and rows[2]["qa_em"] == 0.0
    lines = bench.table(rows).splitlines()
    assert len(lines) == 2 + len(rows) and "format-valid" in lines[0]
    assert lines[2].startswith("| expert | 1.000 | 1.000 | 1.000 |")


def test_tokenizer_corpus_is_the_train_split(bench: ModuleType, data: Path) -> None:
    texts = bench.corpus(data)
    assert SYSTEM_PROMPT in texts
    train = read_rows(data, "train")
    assert all(r["target"] in texts for r in train if r["task"] != "dialogue")
    assert all(t["target"] in texts for r in train if r["task"] == "dialogue" for t in r["turns"])
    # one question per reply of the train split, nothing from the test split
    assert sum(t.startswith("Question: ") for t in texts) == _replies(train)
