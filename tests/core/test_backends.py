"""The transformers backend on a tiny random Qwen2.5-VL saved and loaded via from_pretrained, and the factory."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from nav_r1 import NavPrompt
from r1_core.backends import make_backend
from r1_core.backends.images import decode_data_url, fit_image, image_data_url, png_data_url
from r1_core.backends.openai_client import OpenAIChatVLM
from r1_core.backends.openai_format import from_openai_messages, to_openai_messages
from r1_core.backends.transformers_vlm import BackendLoadError, TransformersConfig, TransformersVLM
from r1_core.params import ParamError
from r1_core.reasoner import ChatMessage, Frame, Observation, PromptedReasoner
from r1_core.testing.tiny_qwen import QWEN_SPECIAL_TOKENS, tiny_qwen_dir


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_qwen_dir(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def backend(tiny_model: Path) -> TransformersVLM:
    return TransformersVLM(TransformersConfig(model=str(tiny_model), device="cpu", max_new_tokens=4))


def _rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_tiny_checkpoint_is_a_normal_safetensors_checkpoint(tiny_model: Path) -> None:
    names = {p.name for p in tiny_model.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json"} <= names
    assert not any(n.endswith(".bin") for n in names)
    config = json.loads((tiny_model / "config.json").read_text())
    assert config["model_type"] == "qwen2_5_vl"


def test_loads_on_cpu_in_fp32(backend: TransformersVLM) -> None:
    import torch

    assert backend.device == "cpu"
    assert backend.dtype == torch.float32
    assert next(backend._model.parameters()).dtype == torch.float32
    assert 0 < backend.parameter_count < 2_000_000


def test_special_tokens_round_trip(backend: TransformersVLM) -> None:
    tok = backend._tokenizer
    for t in QWEN_SPECIAL_TOKENS:
        assert tok.convert_tokens_to_ids(t) != tok.unk_token_id
        assert tok.decode([tok.convert_tokens_to_ids(t)], skip_special_tokens=True) == ""


def test_generation_with_images_returns_text_and_timings(backend: TransformersVLM) -> None:
    msgs = [
        ChatMessage("system", ("You are a robot.",)),
        ChatMessage("user", ("Go to the kitchen.", _rgb(60, 80), "now:", _rgb(100, 90, 1))),
    ]
    gen = backend.generate_detailed(msgs)
    r = gen.response
    assert r.ok, r.error
    assert isinstance(r.text, str)
    assert r.model == backend.name
    assert {"total", "generate", "preprocess", "decode"} <= set(r.timings)
    assert all(v >= 0.0 for v in r.timings.values())
    assert r.timings["total"] >= r.timings["generate"]
    assert 1 <= gen.completion_tokens <= 4
    # two images, each expanded to grid.prod() / 4 pad tokens: the prompt is longer than the text
    assert gen.prompt_tokens > 20


def test_image_pads_are_expanded_per_image(backend: TransformersVLM) -> None:
    msgs = [ChatMessage("user", ("a", _rgb(56, 56), "b", _rgb(56, 112)))]
    inputs = backend._encode(msgs)
    grid = inputs["image_grid_thw"]
    pad_id = backend._tokenizer.convert_tokens_to_ids("<|image_pad|>")
    n_pads = int((inputs["input_ids"] == pad_id).sum())
    assert n_pads == int(grid.prod(dim=1).sum()) // 4
    assert inputs["pixel_values"].shape[0] == int(grid.prod(dim=1).sum())


def test_greedy_generation_is_repeatable(backend: TransformersVLM) -> None:
    msgs = [ChatMessage("user", ("Where is the sofa?", _rgb(56, 56)))]
    assert backend.generate(msgs).text == backend.generate(msgs).text


def test_text_only_chat(backend: TransformersVLM) -> None:
    r = backend.generate([ChatMessage("user", ("hello",))])
    assert r.ok, r.error


def test_concurrent_calls_are_serialised(backend: TransformersVLM) -> None:
    msgs = [ChatMessage("user", ("turn", _rgb(56, 56)))]
    results = []

    def work() -> None:
        results.append(backend.generate(msgs))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3 and all(r.ok for r in results)
    assert len({r.text for r in results}) == 1


def test_runtime_failure_is_a_failed_response(backend: TransformersVLM) -> None:
    # A template/image mismatch (an image slot the chat cannot hold) must not raise.
    r = backend.generate([ChatMessage("user", ("<|image_pad|> injected", _rgb(56, 56)))])
    assert not r.ok
    assert r.error and "generation failed" in r.error and "image slots" in r.error
    assert "total" in r.timings


def test_nav_prompt_through_prompted_reasoner(backend: TransformersVLM) -> None:
    reasoner = PromptedReasoner(backend, NavPrompt())
    obs = Observation(
        instruction="Walk to the red chair.",
        frame=Frame(_rgb(48, 64)),
        history=tuple(Frame(_rgb(48, 64, i)) for i in range(7)),
    )
    r = reasoner.infer(obs)
    assert r.ok, r.error
    empty = Observation(instruction=" ", frame=Frame(_rgb(48, 64)))
    failed = reasoner.infer(empty)
    assert not failed.ok and failed.error and "instruction" in failed.error


def test_missing_model_is_a_clear_load_error(tmp_path: Path) -> None:
    with pytest.raises(BackendLoadError, match=r"cannot load Qwen2\.5-VL"):
        TransformersVLM(TransformersConfig(model=str(tmp_path / "nope"), local_files_only=True))
    with pytest.raises(BackendLoadError, match="model is empty"):
        TransformersVLM(TransformersConfig())


@pytest.mark.parametrize(
    ("field", "value"),
    [("device", "gpu"), ("dtype", "int8"), ("max_new_tokens", 0), ("temperature", -1.0), ("max_image_side", 8)],
)
def test_bad_config_is_rejected_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ParamError, match=field):
        TransformersConfig(model="x", **{field: value})  # type: ignore[arg-type]


def test_make_backend_transformers(tiny_model: Path) -> None:
    b = make_backend(f"transformers:{tiny_model}", device="cpu", max_new_tokens=2)
    assert isinstance(b, TransformersVLM)
    assert b.config.max_new_tokens == 2


def test_make_backend_openai_and_errors() -> None:
    b = make_backend("openai:http://10.0.0.5:8000/v1#nav-r1", read_timeout_s=3.0)
    assert isinstance(b, OpenAIChatVLM)
    assert b.name == "nav-r1" and b.config.read_timeout_s == 3.0
    b.close()
    with pytest.raises(ParamError, match="did you mean 'transformers'"):
        make_backend("transformer:/models/x")
    with pytest.raises(ParamError, match="needs a target"):
        make_backend("openai:")
    with pytest.raises(ParamError, match="read_timeout"):
        make_backend("openai:http://h/v1", read_timout_s=1.0)
    with pytest.raises(ParamError, match="base_url"):
        make_backend("openai:ftp://h/v1")


def test_images_fit_and_data_url_round_trip() -> None:
    img = _rgb(300, 500)
    small = fit_image(img, 100)
    assert small.shape == (60, 100, 3) and small.dtype == np.uint8
    assert fit_image(img, 1000) is img
    assert np.array_equal(decode_data_url(png_data_url(img)), img)
    jpeg = decode_data_url(image_data_url(np.full((16, 16, 3), 200, np.uint8), "jpeg"))
    assert jpeg.shape == (16, 16, 3) and abs(int(jpeg.mean()) - 200) <= 2
    with pytest.raises(ValueError, match="png' or 'jpeg"):
        image_data_url(img, "webp")
    with pytest.raises(ValueError, match="data URL"):
        decode_data_url("http://example.com/cat.png")
    with pytest.raises(ValueError, match="base64"):
        decode_data_url("data:image/png;base64,@@@")
    with pytest.raises(ValueError, match="not a readable image"):
        decode_data_url("data:image/png;base64,aGVsbG8=")


def test_openai_message_round_trip() -> None:
    img = _rgb(20, 30)
    msgs = [ChatMessage("system", ("sys",)), ChatMessage("user", ("look", img, "go"))]
    wire = to_openai_messages(msgs)
    assert wire[0] == {"role": "system", "content": "sys"}
    assert wire[1]["content"][1]["type"] == "image_url"
    back = from_openai_messages(json.loads(json.dumps(wire)))
    assert back[0] == msgs[0]
    assert back[1].text() == "lookgo"
    assert np.array_equal(back[1].images()[0], img)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ([], "non-empty"),
        ([{"role": "robot", "content": "x"}], r"messages\[0\].role"),
        ([{"role": "user", "content": 3}], r"messages\[0\].content"),
        ([{"role": "user", "content": [{"type": "audio"}]}], r"content\[0\].type"),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]}],
         "no remote fetches"),
    ],
)
def test_bad_openai_messages_name_the_field(raw: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        from_openai_messages(raw)


@pytest.mark.parametrize("layout", ["processor_json", "none"])
def test_chat_template_fallbacks(tiny_model: Path, tmp_path: Path, layout: str) -> None:
    import shutil

    from r1_core.backends.transformers_vlm import QWEN_CHATML_TEMPLATE

    model_dir = tmp_path / "m"
    shutil.copytree(tiny_model, model_dir)
    (model_dir / "chat_template.jinja").unlink()
    marked = QWEN_CHATML_TEMPLATE.replace("<|im_start|>assistant", "<|im_start|>assistant MARK")
    if layout == "processor_json":
        (model_dir / "chat_template.json").write_text(json.dumps({"chat_template": marked}))
    b = TransformersVLM(TransformersConfig(model=str(model_dir), device="cpu", max_new_tokens=2))
    assert b._tokenizer.chat_template == (marked if layout == "processor_json" else QWEN_CHATML_TEMPLATE)
    assert b.generate([ChatMessage("user", ("hi", _rgb(56, 56)))]).ok


def test_data_url_cache_encodes_each_frame_once() -> None:
    from r1_core.backends.images import DataUrlCache

    cache = DataUrlCache("png", size=2)
    a, b, c = _rgb(10, 12, 0), _rgb(10, 12, 1), _rgb(10, 12, 2)
    assert cache(a) == png_data_url(a)
    assert cache(a.copy()) == png_data_url(a)  # same pixels, another array: a hit
    assert (cache.hits, cache.misses) == (1, 1)
    cache(b)
    cache(c)  # evicts a (least recently used)
    cache(a)
    assert cache.misses == 4
    a[0, 0, 0] ^= 0xFF  # changed in place: re-encoded, never stale
    assert cache(a) == png_data_url(a)
    assert cache.misses == 5
    small = DataUrlCache("jpeg", max_side=6)
    assert decode_data_url(small(_rgb(12, 24))).shape == (3, 6, 3)
    with pytest.raises(ValueError, match="png' or 'jpeg"):
        DataUrlCache("gif")
