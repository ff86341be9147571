"""OpenAIChatVLM against a misbehaving stdlib HTTP server: timeouts, refusals, errors, bad JSON, retries."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from r1_core.backends.openai_client import OpenAIChatVLM, OpenAIClientConfig
from r1_core.reasoner import ChatMessage
from r1_core.testing.http import free_port

MSGS = [ChatMessage("user", ("go", np.zeros((8, 8, 3), np.uint8)))]


def ok_body(text: str = "<think>t</think><action>stop</action>", **extra: object) -> bytes:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}], "model": "m", **extra}
    return json.dumps(body).encode()


@dataclass
class Script:
    """What the fake server answers, one entry per request (the last one repeats)."""

    replies: list[tuple[int, bytes, float]] = field(default_factory=list)  # status, body, delay
    requests: list[dict] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self) -> tuple[int, bytes, float]:
        with self.lock:
            i = min(len(self.requests) - 1, len(self.replies) - 1)
            return self.replies[i]


class FakeServer:
    def __init__(self) -> None:
        self.script = Script()
        script = self.script

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length))
                with script.lock:
                    script.requests.append(body)
                    script.headers.append(dict(self.headers))
                status, payload, delay = script.next()
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server = FakeServer()
    yield server
    server.close()


def client(url: str, **kw: object) -> OpenAIChatVLM:
    cfg = {"base_url": url, "model": "m", "backoff_s": 0.01, "read_timeout_s": 2.0, "connect_timeout_s": 1.0}
    cfg.update(kw)
    return OpenAIChatVLM(OpenAIClientConfig(**cfg))  # type: ignore[arg-type]


def test_success_sends_openai_request_and_reads_server_timings(fake: FakeServer) -> None:
    fake.script.replies = [(200, ok_body(timings={"total": 0.01, "generate": 0.008}), 0.0)]
    with client(fake.url, max_tokens=64) as c:
        r = c.generate(MSGS)
    assert r.ok, r.error
    assert r.text == "<think>t</think><action>stop</action>"
    assert r.timings["server_total"] == 0.01 and r.timings["server_generate"] == 0.008
    assert r.timings["request"] >= r.timings["network"] >= 0.0
    assert r.timings["total"] >= r.timings["request"]
    sent = fake.script.requests[0]
    assert sent["model"] == "m" and sent["max_tokens"] == 64
    part = sent["messages"][0]["content"][1]
    assert part["type"] == "image_url" and part["image_url"]["url"].startswith("data:image/png;base64,")
    assert c.attempts == 1 and c.retries == 0


def test_connection_refused_is_retried_then_reported() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with client(url, max_retries=2) as c:
        r = c.generate(MSGS)
    assert not r.ok
    assert r.error and "cannot connect" in r.error and "gave up after 3 attempts" in r.error
    assert c.attempts == 3 and c.retries == 2


def test_read_timeout_is_reported_without_retry(fake: FakeServer) -> None:
    fake.script.replies = [(200, ok_body(), 1.0)]
    with client(fake.url, read_timeout_s=0.2, max_retries=3) as c:
        t0 = time.perf_counter()
        r = c.generate(MSGS)
        elapsed = time.perf_counter() - t0
    assert not r.ok and r.error and "read timeout" in r.error and "0.2 s" in r.error
    assert c.attempts == 1
    assert elapsed < 1.0  # gave up at the timeout instead of waiting for the reply


def test_http_500_is_retried_a_bounded_number_of_times(fake: FakeServer) -> None:
    err = json.dumps({"error": {"message": "out of GPU memory", "type": "server_error"}}).encode()
    fake.script.replies = [(500, err, 0.0)]
    with client(fake.url, max_retries=2) as c:
        r = c.generate(MSGS)
    assert not r.ok and r.error
    assert "HTTP 500" in r.error and "out of GPU memory" in r.error and "3 attempts" in r.error
    assert len(fake.script.requests) == 3 and c.attempts == 3


def test_no_retries_when_max_retries_is_zero(fake: FakeServer) -> None:
    fake.script.replies = [(503, b"busy", 0.0)]
    with client(fake.url, max_retries=0) as c:
        r = c.generate(MSGS)
    assert not r.ok and r.error and "HTTP 503" in r.error and "busy" in r.error and "1 attempt)" in r.error
    assert len(fake.script.requests) == 1


@pytest.mark.parametrize("status", [429, 502, 503])
def test_transient_errors_recover_on_retry(fake: FakeServer, status: int) -> None:
    fake.script.replies = [(status, b"{}", 0.0), (200, ok_body("stop"), 0.0)]
    with client(fake.url, max_retries=2) as c:
        r = c.generate(MSGS)
    assert r.ok, r.error
    assert r.text == "stop"
    assert c.attempts == 2 and c.retries == 1


def test_client_errors_are_not_retried(fake: FakeServer) -> None:
    err = json.dumps({"error": {"message": "model 'x' is not served here"}}).encode()
    fake.script.replies = [(404, err, 0.0)]
    with client(fake.url, max_retries=3) as c:
        r = c.generate(MSGS)
    assert not r.ok and r.error and "HTTP 404" in r.error and "not served here" in r.error
    assert len(fake.script.requests) == 1


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"<html>oops</html>", "malformed JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"choices": []}', "no choices[0].message.content"),
        (b'{"choices": [{"message": {"content": null}}]}', "content is NoneType"),
    ],
)
def test_malformed_replies_are_failures(fake: FakeServer, body: bytes, match: str) -> None:
    fake.script.replies = [(200, body, 0.0)]
    with client(fake.url) as c:
        r = c.generate(MSGS)
    assert not r.ok and r.error and match in r.error
    assert "total" in r.timings


def test_api_key_from_environment(fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.script.replies = [(200, ok_body(), 0.0)]
    monkeypatch.setenv("R1_TEST_KEY", "s3cret")
    with client(fake.url, api_key_env="R1_TEST_KEY") as c:
        assert c.generate(MSGS).ok
    assert fake.script.headers[0].get("Authorization") == "Bearer s3cret"


def test_jpeg_and_downscaling_options(fake: FakeServer) -> None:
    from r1_core.backends.images import decode_data_url

    fake.script.replies = [(200, ok_body(), 0.0)]
    msgs = [ChatMessage("user", ("go", np.full((40, 120, 3), 128, np.uint8)))]
    with client(fake.url, image_format="jpeg", max_image_side=60) as c:
        assert c.generate(msgs).ok
    url = fake.script.requests[0]["messages"][0]["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    img = decode_data_url(url)
    assert img.shape == (20, 60, 3)
    assert abs(int(img.mean()) - 128) <= 2


def test_repeated_frames_are_encoded_once(fake: FakeServer) -> None:
    fake.script.replies = [(200, ok_body(), 0.0)]
    frame = np.full((16, 16, 3), 7, np.uint8)
    msgs = [ChatMessage("user", ("a", frame, "b", frame.copy()))]
    with client(fake.url) as c:
        assert c.generate(msgs).ok
        assert c.generate(msgs).ok
        assert (c._encoder.misses, c._encoder.hits) == (1, 3)
    urls = [p["image_url"]["url"] for p in fake.script.requests[1]["messages"][0]["content"] if p["type"] != "text"]
    assert len(urls) == 2 and urls[0] == urls[1]
