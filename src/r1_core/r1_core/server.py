"""Policy server: a local VLM backend behind an OpenAI-compatible HTTP API.

``policy_server --model /models/nav-r1`` serves ``POST /v1/chat/completions``, ``GET /v1/models``
and ``GET /health`` on 127.0.0.1:8000, so robots on the same machine (or, with ``--host``, the
network) use :class:`~r1_core.backends.openai_client.OpenAIChatVLM` exactly as they would use
vLLM or SGLang.  Every reply carries a ``timings`` object (seconds); every failure comes back as
an OpenAI-style ``{"error": {...}}`` body with the reason, never as a dropped connection.

Sampling is the server's (``--temperature``); a request's ``max_tokens`` can lower, never raise,
``--max-new-tokens``.

Threading: requests are parsed on the event loop and generation runs in Starlette's thread pool;
the backend serialises inference itself.  The request counters are guarded by a lock.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from r1_core.backends.openai_format import from_openai_messages
from r1_core.reasoner import ChatMessage, Response, VLMBackend

LOG = logging.getLogger("r1_core.server")


@runtime_checkable
class DetailedBackend(Protocol):
    """A backend that also reports token counts (``TransformersVLM`` does)."""

    def generate_detailed(self, messages: Sequence[ChatMessage], max_new_tokens: int | None = None) -> Any:
        """Return an object with ``response``, ``prompt_tokens``, ``completion_tokens``, ``truncated``."""
        ...


def _error(status: int, message: str, kind: str, code: str, timings: dict[str, float] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": {"message": message, "type": kind, "code": code}}
    if timings is not None:
        body["timings"] = timings
    return JSONResponse(status_code=status, content=body)


class _Stats:
    """Request counters reported by ``/health``; every field is guarded by ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = time.time()
        self.requests = 0
        self.failures = 0
        self.busy = 0

    def health(self, model: str) -> dict[str, Any]:
        """The ``/health`` body."""
        with self.lock:
            return {
                "status": "ok",
                "model": model,
                "uptime_s": time.time() - self.started,
                "requests": self.requests,
                "failures": self.failures,
                "busy": self.busy,
            }


def _unauthorised() -> JSONResponse:
    return _error(401, "missing or wrong bearer token", "invalid_request_error", "invalid_api_key")


def _read_request(payload: Any, name: str, max_images: int) -> tuple[list[ChatMessage], int | None] | JSONResponse:
    """A chat-completions body -> (messages, max_tokens), or the 4xx reply naming what is wrong."""
    if not isinstance(payload, dict):
        return _error(400, "request body must be a JSON object", "invalid_request_error", "invalid_request")
    requested = payload.get("model")
    if requested not in (None, "", name):
        return _error(404, f"model '{requested}' is not served here (serving '{name}')",
                      "invalid_request_error", "model_not_found")
    if payload.get("stream"):
        return _error(400, "streaming is not supported", "invalid_request_error", "unsupported")
    try:
        messages = from_openai_messages(payload.get("messages"), max_images=max_images)
    except ValueError as exc:
        return _error(400, str(exc), "invalid_request_error", "invalid_messages")
    max_tokens = payload.get("max_completion_tokens", payload.get("max_tokens"))
    bad_type = isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
    if max_tokens is not None and (bad_type or max_tokens < 1):
        return _error(400, f"max_tokens must be a positive integer, got {max_tokens!r}",
                      "invalid_request_error", "invalid_max_tokens")
    return messages, max_tokens


async def _generate(backend: VLMBackend, messages: list[ChatMessage], max_tokens: int | None,
                    stats: _Stats) -> tuple[Response, tuple[int, int], str]:
    """Run the backend in the thread pool: (response, (prompt, completion) tokens, finish reason)."""
    with stats.lock:
        stats.requests += 1
        stats.busy += 1
    try:
        if isinstance(backend, DetailedBackend):
            gen = await run_in_threadpool(backend.generate_detailed, messages, max_tokens)
            return gen.response, (int(gen.prompt_tokens), int(gen.completion_tokens)), (
                "length" if gen.truncated else "stop")
        return await run_in_threadpool(backend.generate, messages), (0, 0), "stop"
    finally:
        with stats.lock:
            stats.busy -= 1


def _reply_timings(response: Response, parse_s: float, t0: float) -> dict[str, float]:
    """The model's timings (its ``total`` as ``model_total``) plus the server's ``parse`` and ``total``."""
    timings = {k: float(v) for k, v in response.timings.items() if k != "total"}
    if "total" in response.timings:
        timings["model_total"] = float(response.timings["total"])
    timings["parse"] = parse_s
    timings["total"] = time.perf_counter() - t0
    return timings


def _completion(name: str, response: Response, usage: tuple[int, int], finish: str,
                timings: dict[str, float]) -> dict[str, Any]:
    """The OpenAI ``chat.completion`` body of a successful reply."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": name,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": response.text}, "finish_reason": finish}
        ],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
        "timings": timings,
    }


def create_app(
    backend: VLMBackend,
    *,
    served_model_name: str | None = None,
    api_key: str | None = None,
    max_images: int = 32,
) -> FastAPI:
    """The FastAPI app serving ``backend``; with ``api_key`` every /v1 route needs that bearer token."""
    name = served_model_name or backend.name
    stats = _Stats()
    app = FastAPI(title="R1 policy server", version="0.1.0")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        LOG.exception("unhandled error")
        return _error(500, f"internal error: {type(exc).__name__}: {exc}", "server_error", "internal_error")

    def _authorised(request: Request) -> bool:
        return not api_key or request.headers.get("authorization", "") == f"Bearer {api_key}"

    @app.get("/health")
    def health() -> dict[str, Any]:
        return stats.health(name)

    @app.get("/v1/models", response_model=None)
    def models(request: Request) -> dict[str, Any] | JSONResponse:
        if not _authorised(request):
            return _unauthorised()
        return {
            "object": "list",
            "data": [{"id": name, "object": "model", "created": int(stats.started), "owned_by": "r1"}],
        }

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> dict[str, Any] | JSONResponse:
        t0 = time.perf_counter()
        if not _authorised(request):
            return _unauthorised()
        try:
            payload = await request.json()
        except ValueError:
            return _error(400, "request body is not valid JSON", "invalid_request_error", "invalid_json")
        parsed = _read_request(payload, name, max_images)
        if isinstance(parsed, JSONResponse):
            return parsed
        messages, max_tokens = parsed
        parse_s = time.perf_counter() - t0
        response, usage, finish = await _generate(backend, messages, max_tokens, stats)
        timings = _reply_timings(response, parse_s, t0)
        if not response.ok:
            with stats.lock:
                stats.failures += 1
            LOG.warning("generation failed: %s", response.error)
            return _error(500, response.error or "generation failed", "server_error", "generation_failed", timings)
        return _completion(name, response, usage, finish, timings)

    return app


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_arg_parser() -> argparse.ArgumentParser:
    """The ``policy_server`` command line."""
    p = argparse.ArgumentParser(prog="policy_server", description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="Qwen2.5-VL model directory or Hub id")
    src.add_argument("--replies", help="serve scripted replies from this file instead of a model (bring-up, drills)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: localhost only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    p.add_argument("--max-new-tokens", type=int, default=512)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--max-image-side", type=int, default=640)
    p.add_argument("--local-files-only", action="store_true", help="never contact the Hub")
    p.add_argument("--served-model-name", default=None, help="name clients put in 'model' (default: --model)")
    p.add_argument("--api-key-env", default="R1_POLICY_API_KEY",
                   help="environment variable whose value, when set, clients must send as a bearer token "
                        "(every mode, --replies included)")
    p.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback --host without a bearer token (anyone on the network can use it)")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``policy_server`` console script."""
    args = build_arg_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Checked before anything loads: the token applies to every mode, and a server reachable from
    # the network without one must be asked for explicitly.
    api_key = os.environ.get(args.api_key_env) or None
    if not _is_loopback(args.host) and api_key is None:
        if not args.insecure:
            LOG.error("refusing to listen on %s without a bearer token: set %s, or pass --insecure to let "
                      "anyone on the network drive this model", args.host, args.api_key_env)
            return 2
        LOG.warning("listening on %s without a bearer token (--insecure): anyone on the network can drive "
                    "this model", args.host)
    import uvicorn

    from r1_core.backends.transformers_vlm import BackendLoadError, TransformersConfig, TransformersVLM
    from r1_core.params import ParamError

    backend: VLMBackend
    if args.replies:
        from r1_core.backends.scripted import ScriptedVLM

        try:
            backend = ScriptedVLM.from_file(args.replies)
        except ParamError as exc:
            LOG.error("%s", exc)
            return 2
        LOG.info("serving scripted replies from %s on http://%s:%d/v1", args.replies, args.host, args.port)
    else:
        try:
            config = TransformersConfig(
                model=args.model, device=args.device, dtype=args.dtype, max_new_tokens=args.max_new_tokens,
                temperature=args.temperature, max_image_side=args.max_image_side,
                local_files_only=args.local_files_only,
            )
            model = TransformersVLM(config)
        except (ParamError, BackendLoadError) as exc:
            LOG.error("%s", exc)
            return 2
        LOG.info(
            "serving %s (%.1fM parameters, %s, %s) as '%s' on http://%s:%d/v1",
            args.model, model.parameter_count / 1e6, model.device, str(model.dtype).removeprefix("torch."),
            args.served_model_name or model.name, args.host, args.port,
        )
        backend = model
    app = create_app(backend, served_model_name=args.served_model_name, api_key=api_key)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
