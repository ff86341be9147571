"""The CLIP view scorer on a tiny random-weight CLIP built here (no download).

A random CLIP's relevance means nothing: these tests check the plumbing (loading, batching, the
cache, the [0, 1] mapping against CLIP's own forward pass, view selection and scene-eval wiring),
not that CLIP finds the right view.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from scene_world import tiny_frame

from nav_r1.cli import main
from nav_r1.scene.clip_scorer import ClipViewScorer, make_view_scorer
from nav_r1.scene.data import DataConfig, write_dataset
from nav_r1.scene.evaluate import SceneStore, evaluate
from nav_r1.scene.memory import CameraIntrinsics, KeyView, MemoryConfig, SceneMemory
from nav_r1.scene.reasoners import BlindReasoner, SceneQuery
from nav_r1.scene.views import select_views
from r1_core.params import ParamError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

QUESTION = "Where is the red chair?"


def build_tiny_clip(path: Path, seed: int = 0) -> Path:
    """A random CLIP (text and vision 32 wide, 2 layers, 32 px images in 8 px patches) with its processor."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    # The smallest valid CLIP BPE vocabulary: every byte's character alone and word-final, the two
    # specials, and no merges (each character is a token).
    chars = list(bytes_to_unicode().values())
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab.update({"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1})
    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.json").write_text(json.dumps(vocab))
    (path / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = transformers.CLIPTokenizer.from_pretrained(path)
    eos = vocab["<|endoftext|>"]
    config = transformers.CLIPConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "max_position_embeddings": 77,
                     "bos_token_id": vocab["<|startoftext|>"], "eos_token_id": eos, "pad_token_id": eos},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        projection_dim=16)
    torch.manual_seed(seed)
    transformers.CLIPModel(config).save_pretrained(path)
    images = transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    transformers.CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("tiny_clip"))


@pytest.fixture(scope="module")
def scorer(clip_dir: Path) -> ClipViewScorer:
    return ClipViewScorer(clip_dir)


def _views(n: int, seed: int = 0, first_id: int = 0) -> list[KeyView]:
    rng = np.random.default_rng(seed)
    k = CameraIntrinsics(64, 48, 50.0, 50.0, 31.5, 23.5)
    return [KeyView(first_id + i, float(first_id + i), rng.integers(0, 256, (48, 64, 3), dtype=np.uint8),
                    np.ones((48, 64), np.float32), k, np.eye(4)) for i in range(n)]


def test_scores_are_clips_own_text_to_image_softmax(clip_dir: Path, scorer: ClipViewScorer) -> None:
    from PIL import Image

    views = _views(5)
    scores = scorer.score(QUESTION, views)
    assert len(scores) == 5 and all(0.0 <= s <= 1.0 for s in scores) and sum(scores) == pytest.approx(1.0)
    # The same figures from CLIPModel's forward pass (logits_per_text), computed independently here.
    model = transformers.CLIPModel.from_pretrained(clip_dir, local_files_only=True).eval()
    processor = transformers.CLIPProcessor.from_pretrained(clip_dir, local_files_only=True)
    inputs = processor(text=[QUESTION], images=[Image.fromarray(v.rgb) for v in views], return_tensors="pt",
                       padding=True)
    with torch.no_grad():
        expected = model(**inputs).logits_per_text.softmax(dim=-1)[0].numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-6)
    assert len(set(np.round(scores, 6))) > 1  # the views differ, so do their scores


def test_scores_are_deterministic_and_each_view_is_embedded_once(clip_dir: Path) -> None:
    scorer = ClipViewScorer(clip_dir, batch_size=2)  # 5 views: batches of 2, 2 and 1
    views = _views(5, seed=1)
    first = scorer.score(QUESTION, views)
    assert (scorer.images_embedded, scorer.texts_embedded) == (5, 1)
    assert scorer.score(QUESTION, views) == first  # bit-identical from the cache
    scorer.score("Is there a sofa in the kitchen?", views)
    assert (scorer.images_embedded, scorer.texts_embedded) == (5, 3)  # new questions, no new images
    long = scorer.score("Is the chair next to the sofa in the living room " * 10, views)  # > 77 tokens: truncated
    assert len(long) == 5 and all(0.0 <= x <= 1.0 for x in long)
    more = [*views, *_views(1, seed=2, first_id=5)]
    scorer.score(QUESTION, more)
    assert scorer.images_embedded == 6  # only the new view
    fresh = ClipViewScorer(clip_dir)  # another load, one batch: the same figures
    np.testing.assert_allclose(fresh.score(QUESTION, views), first, rtol=1e-5, atol=1e-7)


def test_a_reused_view_id_with_another_image_is_embedded_again(scorer: ClipViewScorer) -> None:
    views = _views(3, seed=3)
    before = scorer.similarities(QUESTION, views)
    count = scorer.images_embedded
    moved = dataclasses.replace(views[1], pose=np.diag([1.0, -1.0, -1.0, 1.0]))  # the same image object
    assert scorer.similarities(QUESTION, [moved])[0] == before[1] and scorer.images_embedded == count
    # A cleared memory numbers its views from 0 again, with the same stamps: a new image is a new view.
    reused = dataclasses.replace(views[1], rgb=np.full_like(views[1].rgb, 200))
    after = scorer.similarities(QUESTION, [views[0], reused, views[2]])
    assert scorer.images_embedded == count + 1
    assert after[0] == before[0] and after[2] == before[2] and after[1] != before[1]


def test_the_cache_is_bounded(clip_dir: Path) -> None:
    scorer = ClipViewScorer(clip_dir, max_cached_views=2)
    views = _views(3, seed=4)
    scorer.score(QUESTION, views)  # embeds 3, keeps the last two used (views 1 and 2)
    scorer.score(QUESTION, views)  # view 0 again; keeps 2 and 0
    assert scorer.images_embedded == 4
    scorer.score(QUESTION, [views[2], views[0]])
    assert scorer.images_embedded == 4
    scorer.score(QUESTION, [views[1]])
    assert scorer.images_embedded == 5


def _memory() -> SceneMemory:
    memory = SceneMemory(MemoryConfig(key_view_translation_m=0.1, key_view_rotation_deg=5.0))
    memory.add_frame(tiny_frame((0.0, 0.0, 1.2), (3.0, 0.0, 0.5))[0])
    memory.add_frame(tiny_frame((0.0, 0.15, 1.2), (3.0, 0.15, 0.5), 1.0)[0])
    memory.add_frame(tiny_frame((0.0, 0.0, 1.2), (0.0, 3.0, 0.5), 2.0)[0])
    memory.add_frame(tiny_frame((0.0, 0.0, 1.2), (-3.0, 0.5, 0.5), 3.0)[0])
    return memory


def test_select_views_follows_the_scorer(scorer: ClipViewScorer) -> None:
    memory = _memory()
    views = memory.key_views()
    scores = list(scorer.score(QUESTION, views))
    assert len(views) == 4 and len(set(np.round(scores, 6))) == 4
    top = views[int(np.argmax(scores))].view_id
    sel = select_views(memory.points(), views, k=1, question=QUESTION, scorer=scorer, relevance_weight=1.0)
    assert sel.view_ids == (top,) and sel.relevance == (pytest.approx(max(scores)),)
    assert sel.note == "coverage and relevance (weight 1.0)"
    ranked = select_views(memory.points(), views, k=4, question=QUESTION, scorer=scorer, relevance_weight=1.0)
    order = [views[i].view_id for i in np.argsort(scores)[::-1]]
    assert list(ranked.view_ids) == order
    blank = select_views(memory.points(), views, k=1, question=" ", scorer=scorer)
    assert "view scorer failed: ValueError: empty question" in blank.note and blank.relevance is None


def test_specs_and_directories(clip_dir: Path, tmp_path: Path) -> None:
    assert make_view_scorer("") is None and make_view_scorer("  ") is None
    built = make_view_scorer(f"clip:{clip_dir}")
    assert isinstance(built, ClipViewScorer) and built.name == f"clip:{clip_dir}"
    assert str(built.device) == "cpu"
    for bad in ("clip:", "siglip:/models/x", "/models/clip"):
        with pytest.raises(ParamError, match="clip:DIR"):
            make_view_scorer(bad)
    with pytest.raises(ValueError, match=re.escape(f"'{tmp_path / 'absent'}' does not exist")):
        make_view_scorer(f"clip:{tmp_path / 'absent'}")
    with pytest.raises(ValueError, match=r"no config\.json"):
        ClipViewScorer(tmp_path)
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match=r"is not a CLIP model .*'bert'"):
        ClipViewScorer(tmp_path / "bert")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((clip_dir / "config.json").read_text())  # no weights, no processor
    with pytest.raises(ValueError, match=re.escape(f"cannot load CLIP from '{broken}'")):
        ClipViewScorer(broken)
    with pytest.raises(ValueError, match="bad device"):
        make_view_scorer(f"clip:{clip_dir}#toaster")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            make_view_scorer(f"clip:{clip_dir}#cuda")


class _Prefers:
    """Relevance 1 for the views showing ``image`` (compared by pixels: the evaluator loads its own copy)."""

    name = "prefers"

    def __init__(self, image: np.ndarray) -> None:
        self.image = image

    def score(self, question: str, views: Sequence[KeyView]) -> Sequence[float]:
        return [float(np.array_equal(v.rgb, self.image)) for v in views]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clip_scene_data")
    write_dataset(out, DataConfig(scenes=3, seed=2, views_per_room=2, width=48, height=36, min_rooms=2,
                                  max_rooms=2, views_per_row=2))
    return out


def test_scene_eval_selects_each_questions_views_with_the_scorer(dataset: Path, tmp_path: Path) -> None:
    seen: list[SceneQuery] = []

    class Spy(BlindReasoner):
        def reply(self, query: SceneQuery) -> str:
            seen.append(query)
            return super().reply(query)

    store = SceneStore(dataset)
    rows = [json.loads(line) for line in (dataset / "test.jsonl").read_text().splitlines()][:12]
    scene = rows[0]["scene"]
    _, mapping = store.memory(scene)
    wanted = max(mapping)  # the scene's last saved view: rarely the coverage pick
    assert len(set(mapping.values())) == len(mapping)  # every saved view is a key view here
    assert any(r["views"][0] != wanted for r in rows if r["scene"] == scene)  # the dataset's views differ
    prefers = _Prefers(store.rgb(scene, wanted))
    report = evaluate(dataset, "test", Spy([]), tmp_path / "r", pictures=0, limit=12, scorer=prefers,
                      relevance_weight=1.0)
    assert seen and all(len(q.view_ids) == 2 for q in seen)
    mine = [q for q in seen if q.scene == scene]
    assert mine and all(q.view_ids[0] == wanted for q in mine)
    assert all(q.images[0] == f"scenes/{scene}/rgb/{wanted:03d}.png" for q in mine)
    assert all(np.array_equal(q.rgb[0], store.rgb(scene, wanted)) for q in mine)
    assert report["views"]["notes"] == {"coverage and relevance (weight 1.0)": len(seen)}
    assert "relevance weight 1.0" in (tmp_path / "r" / "report.md").read_text()


def test_scene_eval_cli_with_the_clip_scorer(dataset: Path, clip_dir: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scene-eval", "--data", str(dataset), "--reasoner", "blind", "--out", str(tmp_path / "r"),
                 "--limit", "6", "--pictures", "0", "--view-scorer", f"clip:{clip_dir}"]) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["views"]["selection"] == f"select_views per question with clip:{clip_dir}"
    assert report["views"]["notes"] == {"coverage and relevance (weight 0.5)": sum(report["views"]["notes"].values())}
    assert sum(report["views"]["notes"].values()) >= 6
    plain = tmp_path / "plain"
    assert main(["scene-eval", "--data", str(dataset), "--reasoner", "blind", "--out", str(plain), "--limit", "6",
                 "--pictures", "0"]) == 0
    assert json.loads((plain / "report.json").read_text())["views"] == {"selection": "dataset (the row's views)"}
    capsys.readouterr()
    assert main(["scene-eval", "--data", str(dataset), "--out", str(tmp_path / "x"), "--view-scorer", "siglip:x"]) == 2
    assert "clip:DIR" in capsys.readouterr().err
    assert main(["scene-eval", "--data", str(dataset), "--out", str(tmp_path / "y"), "--view-scorer",
                 f"clip:{tmp_path / 'none'}"]) == 2
    assert "does not exist" in capsys.readouterr().err
