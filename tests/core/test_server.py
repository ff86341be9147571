"""The policy server (uvicorn on 127.0.0.1, a free port) serving the tiny Qwen2.5-VL, driven by our client."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import numpy as np
import pytest

from nav_r1 import NavPrompt, parse_response
from r1_core.backends.openai_client import OpenAIChatVLM, OpenAIClientConfig
from r1_core.backends.transformers_vlm import TransformersConfig, TransformersVLM
from r1_core.reasoner import ChatMessage, Frame, Observation, PromptedReasoner, Response
from r1_core.server import _is_loopback, build_arg_parser, create_app, main
from r1_core.testing.http import serve_app
from r1_core.testing.tiny_qwen import tiny_qwen_dir

MODEL_NAME = "tiny-nav"


@pytest.fixture(scope="module")
def tiny_backend(tmp_path_factory: pytest.TempPathFactory) -> TransformersVLM:
    path = tiny_qwen_dir(tmp_path_factory.getbasetemp())
    return TransformersVLM(TransformersConfig(model=str(path), device="cpu", max_new_tokens=4))


@pytest.fixture(scope="module")
def server_url(tiny_backend: TransformersVLM) -> Iterator[str]:
    with serve_app(create_app(tiny_backend, served_model_name=MODEL_NAME)) as url:
        yield url


def client(url: str, **kw: object) -> OpenAIChatVLM:
    cfg = {"base_url": f"{url}/v1", "model": MODEL_NAME, "backoff_s": 0.01, "read_timeout_s": 30.0}
    cfg.update(kw)
    return OpenAIChatVLM(OpenAIClientConfig(**cfg))  # type: ignore[arg-type]


def _rgb(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)


def test_client_gets_the_same_text_as_the_local_backend(server_url: str, tiny_backend: TransformersVLM) -> None:
    msgs = [ChatMessage("user", ("Go to the sofa.", _rgb(0)))]
    with client(server_url) as c:
        remote = c.generate(msgs)
    local = tiny_backend.generate(msgs)
    assert remote.ok, remote.error
    assert remote.text == local.text  # greedy decoding, PNG is lossless
    assert remote.model == MODEL_NAME
    t = remote.timings
    assert {"total", "request", "network", "server_total", "server_generate", "server_parse"} <= set(t)
    assert t["server_total"] >= t["server_generate"] > 0.0
    assert t["request"] >= t["network"] >= 0.0


def test_nav_r1_reasoner_over_http_and_parse(server_url: str) -> None:
    with client(server_url) as c:
        reasoner = PromptedReasoner(c, NavPrompt())
        obs = Observation("Find the kitchen.", Frame(_rgb(1)), history=tuple(Frame(_rgb(i)) for i in range(6)))
        r = reasoner.infer(obs)
    assert r.ok, r.error
    parsed = parse_response(r.text)  # random weights: almost surely a failure, but never an exception
    assert parsed.ok or parsed.failure


def test_reply_schema_usage_and_health(server_url: str) -> None:
    with httpx.Client(base_url=server_url, timeout=30.0) as h:
        before = h.get("/health").json()
        body = {"model": MODEL_NAME, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4}
        r = h.post("/v1/chat/completions", json=body)
        assert r.status_code == 200
        reply = r.json()
        assert reply["object"] == "chat.completion" and reply["model"] == MODEL_NAME
        assert reply["choices"][0]["message"]["role"] == "assistant"
        assert isinstance(reply["choices"][0]["message"]["content"], str)
        usage = reply["usage"]
        assert usage["prompt_tokens"] > 0 and 1 <= usage["completion_tokens"] <= 4
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert reply["timings"]["total"] >= reply["timings"]["generate"]
        after = h.get("/health").json()
        assert after["status"] == "ok" and after["model"] == MODEL_NAME
        assert after["requests"] == before["requests"] + 1 and after["busy"] == 0
        assert reply["choices"][0]["finish_reason"] in ("stop", "length")
        short = h.post("/v1/chat/completions", json={**body, "max_tokens": 1}).json()
        assert short["usage"]["completion_tokens"] == 1
        assert short["choices"][0]["finish_reason"] == "length"
        models = h.get("/v1/models").json()
        assert [m["id"] for m in models["data"]] == [MODEL_NAME]
    with client(server_url) as c:
        health = c.health()
    assert health is not None and health["model"] == MODEL_NAME


@pytest.mark.parametrize(
    ("content", "status", "code", "text"),
    [
        (b"{not json", 400, "invalid_json", "not valid JSON"),
        (b"[]", 400, "invalid_request", "JSON object"),
        (json.dumps({"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}).encode(), 404,
         "model_not_found", "'gpt-9' is not served here"),
        (json.dumps({"messages": [{"role": "user", "content": "x"}], "stream": True}).encode(), 400,
         "unsupported", "streaming"),
        (json.dumps({"messages": []}).encode(), 400, "invalid_messages", "non-empty"),
        (json.dumps({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}).encode(), 400,
         "invalid_max_tokens", "positive integer"),
        (json.dumps({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]}).encode(),
         400, "invalid_messages", "no remote fetches"),
    ],
)
def test_bad_requests_get_openai_errors(server_url: str, content: bytes, status: int, code: str, text: str) -> None:
    r = httpx.post(f"{server_url}/v1/chat/completions", content=content,
                   headers={"content-type": "application/json"}, timeout=10.0)
    assert r.status_code == status
    err = r.json()["error"]
    assert err["code"] == code and text in err["message"]


def test_wrong_model_name_fails_once_without_retries(server_url: str) -> None:
    with client(server_url, model="other", max_retries=3) as c:
        r = c.generate([ChatMessage("user", ("hi",))])
    assert not r.ok and r.error and "HTTP 404" in r.error and "'other' is not served here" in r.error
    assert c.attempts == 1


class FailingBackend:
    """A VLMBackend whose generation fails like an out-of-memory GPU, or raises outright."""

    def __init__(self, raise_instead: bool = False) -> None:
        self.raise_instead = raise_instead
        self.calls = 0

    @property
    def name(self) -> str:
        return "failing"

    def generate(self, messages: Sequence[ChatMessage]) -> Response:
        self.calls += 1
        if self.raise_instead:
            raise RuntimeError("kernel exploded")
        return Response.failure(self.name, "out of GPU memory: tried to allocate 2 GiB", {"total": 0.01})


def test_backend_failure_comes_back_as_error_json_and_client_retries_bounded() -> None:
    backend = FailingBackend()
    with serve_app(create_app(backend)) as url:
        r = httpx.post(f"{url}/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 500
        body = r.json()
        assert body["error"]["code"] == "generation_failed" and "out of GPU memory" in body["error"]["message"]
        assert body["timings"]["model_total"] == 0.01
        with client(url, model="failing", max_retries=2) as c:
            resp = c.generate([ChatMessage("user", ("x",))])
        assert not resp.ok and resp.error and "out of GPU memory" in resp.error and "3 attempts" in resp.error
        assert backend.calls == 4
        assert httpx.get(f"{url}/health").json()["failures"] == 4


def test_unexpected_exception_is_reported_not_dropped() -> None:
    with serve_app(create_app(FailingBackend(raise_instead=True))) as url:
        r = httpx.post(f"{url}/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 500
        assert "kernel exploded" in r.json()["error"]["message"]
        assert httpx.get(f"{url}/health").json()["status"] == "ok"  # still serving


def test_api_key_is_enforced_on_v1_routes() -> None:
    with serve_app(create_app(FailingBackend(), api_key="s3cret")) as url:
        assert httpx.get(f"{url}/v1/models").status_code == 401
        ok = httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert httpx.get(f"{url}/health").status_code == 200
        with client(url, model="failing", max_retries=2) as c:
            r = c.generate([ChatMessage("user", ("x",))])
        assert not r.ok and r.error and "HTTP 401" in r.error and c.attempts == 1


def test_command_line_defaults_to_localhost(tmp_path: Path) -> None:
    args = build_arg_parser().parse_args(["--model", "/m"])
    assert args.host == "127.0.0.1" and args.port == 8000 and args.device == "auto"
    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("localhost")
    assert not _is_loopback("0.0.0.0") and not _is_loopback("192.168.1.4")
    # a model that cannot be loaded exits with status 2 and a message, before binding anything
    assert main(["--model", str(tmp_path / "missing"), "--local-files-only", "--port", "1"]) == 2
