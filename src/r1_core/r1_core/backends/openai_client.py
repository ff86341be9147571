"""Client of an OpenAI-compatible chat-completions server (vLLM, SGLang, our ``policy_server``).

One GPU server can then serve many robots.  Every operational failure (connection refused, timeout,
HTTP error, malformed reply, a reply over ``max_reply_bytes``, a request past its deadline) becomes
a failed :class:`Response` with a message naming it; connect errors, 429 and 5xx are retried a
bounded number of times with exponential backoff.  Timeouts are not retried: a reply that late is
stale for a moving robot, and the server is still busy.

Deadline: ``read_timeout_s`` bounds each wait for bytes, so a server trickling a byte every few
seconds would never time out on it alone; ``request_timeout_s`` bounds a whole ``generate`` call,
retries and backoff included. The body is read in chunks and the deadline checked after each, and
each wait for bytes is capped at the time left when the request starts; a server that trickles its
*status line and headers* is bounded by that cap per byte, not by the deadline (httpx reads the
headers in one call).

Threading: ``generate`` may be called from several threads (``httpx.Client`` is thread-safe);
the attempt counters are guarded by a lock.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from r1_core.backends.images import DataUrlCache
from r1_core.backends.openai_format import to_openai_messages
from r1_core.params import ParamError, param, validate_params
from r1_core.reasoner import ChatMessage, Response

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class OpenAIClientConfig:
    """Where the server is and how patiently to talk to it."""

    # The API root, including /v1 (vLLM and SGLang serve under /v1).
    base_url: str = param("http://127.0.0.1:8000/v1", "Server API root, e.g. http://gpu-host:8000/v1")
    model: str = param("", "Model name the server serves (its --served-model-name)")
    # Prefer the environment variable: parameters end up in logs and bags.
    api_key: str = param("", "Bearer token; empty reads the variable named by api_key_env")
    api_key_env: str = param("R1_POLICY_API_KEY", "Environment variable holding the bearer token")
    connect_timeout_s: float = param(2.0, "TCP connect timeout [s]", min=0.01, max=60.0)
    # A 7B VLM with six frames answers in ~0.1-1 s on a server GPU; longer means something is wrong.
    read_timeout_s: float = param(10.0, "Longest wait for the next bytes of the reply [s]", min=0.01, max=600.0)
    request_timeout_s: float = param(15.0, "Deadline of a whole request, retries included [s]", min=0.01, max=3600.0)
    # A 512-token reply is a few kB of JSON; 10 MB is a broken or hostile server.
    max_reply_bytes: int = param(1 << 20, "Replies larger than this are refused [bytes]", min=1024)
    max_retries: int = param(2, "Retries after the first attempt (connect errors, 429, 5xx)", min=0, max=10)
    backoff_s: float = param(0.2, "First retry delay; doubles each retry [s]", min=0.0, max=10.0)
    max_tokens: int = param(512, "max_tokens sent with each request", min=1, max=32768)
    temperature: float = param(0.0, "Sampling temperature sent with each request", min=0.0, max=5.0)
    # PNG is lossless (what the model was tuned on); JPEG is several times smaller and faster to encode.
    image_format: str = param("png", "Encoding of frames sent to the server", choices=("png", "jpeg"))
    # Downscaling on the robot saves uplink bandwidth; the server bounds image tokens anyway.
    max_image_side: int = param(640, "Frames are downscaled so their longer side is at most this [px]", min=28)

    def __post_init__(self) -> None:
        validate_params(self)
        if not self.base_url.startswith(("http://", "https://")):
            raise ParamError(f"parameter 'base_url' must start with http:// or https://, got {self.base_url!r}")


class _RetryableError(Exception):
    """Internal: an attempt failed in a way worth retrying."""


class _FatalError(Exception):
    """Internal: an attempt failed in a way retrying will not fix."""


class OpenAIChatVLM:
    """A :class:`~r1_core.reasoner.VLMBackend` that calls ``POST {base_url}/chat/completions``."""

    def __init__(self, config: OpenAIClientConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        key = config.api_key or os.environ.get(config.api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        timeout = httpx.Timeout(
            connect=config.connect_timeout_s, read=config.read_timeout_s, write=config.read_timeout_s, pool=1.0
        )
        self._client = httpx.Client(
            base_url=config.base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )
        self._lock = threading.Lock()
        # Sized for Nav-R1's 6 frames per call with room to spare; 5 of them repeat from the last call.
        self._encoder = DataUrlCache(config.image_format, config.max_image_side, size=16)
        self.attempts = 0  # HTTP attempts made, retries included
        self.retries = 0

    @property
    def name(self) -> str:
        """The served model name (or the URL when none is configured)."""
        return self.config.model or self.config.base_url

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> OpenAIChatVLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def health(self) -> dict[str, Any] | None:
        """The server's ``/health`` JSON (our policy server; vLLM answers 200 with no body), or None.

        Bounded like a request: ``request_timeout_s`` for the whole probe, ``max_reply_bytes``.
        """
        root = self.config.base_url.rstrip("/").removesuffix("/v1")
        deadline = time.perf_counter() + self.config.request_timeout_s
        wait = min(self.config.read_timeout_s, self.config.request_timeout_s)
        timeout = httpx.Timeout(connect=min(self.config.connect_timeout_s, wait), read=wait, write=wait, pool=1.0)
        try:
            with self._client.stream("GET", f"{root}/health", timeout=timeout) as r:
                data = self._read(r, f"{root}/health", deadline)
            if r.status_code != 200:
                return None
            body = json.loads(data) if data else {}
            return body if isinstance(body, dict) else None
        except (httpx.HTTPError, json.JSONDecodeError, UnicodeDecodeError, RecursionError, _FatalError):
            return None

    def generate(self, messages: Sequence[ChatMessage]) -> Response:
        """Send the chat and return the reply; failures are responses with ``error`` set."""
        t0 = time.perf_counter()
        try:
            payload = {
                "model": self.config.model,
                "messages": to_openai_messages(messages, self._encoder),
                "max_tokens": self.config.max_tokens,
                "temperature": self.config.temperature,
            }
        except (ValueError, TypeError) as exc:
            return Response.failure(self.name, f"cannot encode the request: {exc}")
        encode_s = time.perf_counter() - t0
        deadline = t0 + self.config.request_timeout_s
        last_error = ""
        for attempt in range(self.config.max_retries + 1):
            if attempt:
                delay = self.config.backoff_s * 2 ** (attempt - 1)
                if time.perf_counter() + delay >= deadline:
                    last_error += f"; no time left for a retry within {self.config.request_timeout_s:g} s"
                    break
                with self._lock:
                    self.retries += 1
                time.sleep(delay)
            with self._lock:
                self.attempts += 1
            t1 = time.perf_counter()
            try:
                reply = self._attempt(payload, deadline)
            except _RetryableError as exc:
                last_error = str(exc)
                continue
            except _FatalError as exc:
                return Response.failure(self.name, str(exc), self._timings(t0, t1, encode_s, None))
            return self._to_response(reply, t0, t1, encode_s)
        tries = self.config.max_retries + 1
        return Response.failure(
            self.name, f"{last_error} (gave up after {tries} attempt{'s' if tries > 1 else ''})",
            {"total": time.perf_counter() - t0, "encode": encode_s},
        )

    def _attempt(self, payload: dict[str, Any], deadline: float) -> dict[str, Any]:
        url = f"{self.config.base_url.rstrip('/')}/chat/completions"
        left = deadline - time.perf_counter()
        if left <= 0.0:
            raise _FatalError(self._late(url))
        wait = min(self.config.read_timeout_s, left)
        timeout = httpx.Timeout(connect=min(self.config.connect_timeout_s, left), read=wait, write=wait, pool=1.0)
        try:
            with self._client.stream("POST", "/chat/completions", json=payload, timeout=timeout) as r:
                data = self._read(r, url, deadline)
                if r.status_code in _RETRY_STATUS:
                    raise _RetryableError(f"HTTP {r.status_code} from {url}: {_error_text(data, r.reason_phrase)}")
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise _RetryableError(f"cannot connect to {url}: {exc or type(exc).__name__}") from None
        except httpx.TimeoutException:
            if time.perf_counter() >= deadline - 1e-3:
                raise _FatalError(self._late(url)) from None
            raise _FatalError(f"no reply from {url} within {wait:g} s (read timeout)") from None
        except httpx.HTTPError as exc:
            raise _RetryableError(f"request to {url} failed: {type(exc).__name__}: {exc}") from None
        if r.status_code != 200:
            raise _FatalError(f"HTTP {r.status_code} from {url}: {_error_text(data, r.reason_phrase)}")
        try:
            body = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):  # RecursionError: absurd nesting
            raise _FatalError(f"malformed JSON from {url}: {data[:120]!r}") from None
        if not isinstance(body, dict):
            raise _FatalError(f"malformed reply from {url}: expected a JSON object, got {type(body).__name__}")
        return body

    def _read(self, r: httpx.Response, url: str, deadline: float) -> bytes:
        """The (decoded) body of a streamed response, within the deadline and ``max_reply_bytes``."""
        declared = r.headers.get("content-length", "")
        limit = self.config.max_reply_bytes
        if declared.isdigit() and int(declared) > limit:
            raise _FatalError(f"reply from {url} is {int(declared)} bytes, more than max_reply_bytes {limit}")
        chunks: list[bytes] = []
        size = 0
        for chunk in r.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise _FatalError(f"reply from {url} is larger than max_reply_bytes {limit}: refused")
            chunks.append(chunk)
            if time.perf_counter() > deadline:
                raise _FatalError(self._late(url))
        return b"".join(chunks)

    def _late(self, url: str) -> str:
        return f"no complete reply from {url} within the request deadline of {self.config.request_timeout_s:g} s"

    def _to_response(self, body: dict[str, Any], t0: float, t1: float, encode_s: float) -> Response:
        server = body.get("timings")
        server_timings = server if isinstance(server, Mapping) else None
        timings = self._timings(t0, t1, encode_s, server_timings)
        try:
            content = body["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            return Response.failure(self.name, "malformed reply: no choices[0].message.content", timings)
        if not isinstance(content, str):
            return Response.failure(self.name, f"malformed reply: content is {type(content).__name__}", timings)
        model = body.get("model") if isinstance(body.get("model"), str) else self.name
        return Response(text=content, model=str(model or self.name), timings=timings)

    @staticmethod
    def _timings(t0: float, t1: float, encode_s: float, server: Mapping[str, Any] | None) -> dict[str, float]:
        now = time.perf_counter()
        out = {"total": now - t0, "encode": encode_s, "request": now - t1}
        if server:
            for key, value in server.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    out[f"server_{key}"] = float(value)
        # Time on the wire and in the server's HTTP stack: the request minus the server's own total.
        out["network"] = max(0.0, out["request"] - out.get("server_total", 0.0))
        return out


def _error_text(content: bytes, reason: str) -> str:
    """The server's error message from an OpenAI-style error body, or the start of the body."""
    try:
        body = json.loads(content)
        if isinstance(body, dict):
            err = body.get("error")
            if isinstance(err, dict) and isinstance(err.get("message"), str):
                return str(err["message"])
            if isinstance(body.get("detail"), str):
                return str(body["detail"])
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        pass
    return content[:200].decode(errors="replace") or reason
