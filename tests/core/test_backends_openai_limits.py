"""The model-server client's bounds, against real local servers on 127.0.0.1: an overall deadline
(a server trickling its reply byte by byte) and a maximum reply size."""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Iterator

import numpy as np
import pytest
from http_servers import RawServer, trickle

from r1_core.backends.openai_client import OpenAIChatVLM, OpenAIClientConfig
from r1_core.reasoner import ChatMessage

MSGS = [ChatMessage("user", ("go", np.zeros((8, 8, 3), np.uint8)))]


@pytest.fixture
def server_factory() -> Iterator:
    servers: list[RawServer] = []

    def make(respond) -> RawServer:
        servers.append(RawServer(respond))
        return servers[-1]
    yield make
    for s in servers:
        s.close()


def _generate_in_thread(vlm: OpenAIChatVLM, what: str):
    """Run ``generate`` with a generous liveness bound: without a deadline it would never return."""
    result = []
    t = threading.Thread(target=lambda: result.append(vlm.generate(MSGS)), daemon=True)
    t.start()
    t.join(timeout=60.0)
    assert result, f"generate() never returned from {what}"
    return result[0]


def test_a_trickling_server_hits_the_request_deadline(server_factory) -> None:
    # Each byte arrives well within the read timeout, so only an overall deadline can end this.
    srv = server_factory(trickle(0.5))
    vlm = OpenAIChatVLM(OpenAIClientConfig(base_url=f"http://127.0.0.1:{srv.port}/v1", read_timeout_s=2.0,
                                           request_timeout_s=1.5, max_retries=2))
    reply = _generate_in_thread(vlm, "a trickling server")
    assert not reply.ok
    assert "within the request deadline of 1.5 s" in reply.error
    assert vlm.attempts == 1  # a timeout is not retried
    # The health probe is bounded the same way: None (unreachable), not a hang.
    done: list[object] = []
    t = threading.Thread(target=lambda: done.append(vlm.health()), daemon=True)
    t.start()
    t.join(timeout=60.0)
    assert done == [None]


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "close-delimited"])
def test_an_oversized_reply_is_refused(server_factory, declared: bool) -> None:
    big = b'{"choices": [{"message": {"content": "' + b"x" * (3 << 20) + b'"}}]}'

    def respond(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        head += f"Content-Length: {len(big)}\r\n".encode() if declared else b"Connection: close\r\n"
        conn.sendall(head + b"\r\n")
        conn.sendall(big)

    srv = server_factory(respond)
    vlm = OpenAIChatVLM(OpenAIClientConfig(base_url=f"http://127.0.0.1:{srv.port}/v1", max_reply_bytes=1 << 20))
    reply = _generate_in_thread(vlm, "an oversized reply")
    assert not reply.ok and "max_reply_bytes 1048576" in reply.error, reply.error
    assert reply.text == ""


def test_retries_stop_at_the_deadline(server_factory) -> None:
    def unavailable(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    srv = server_factory(unavailable)
    vlm = OpenAIChatVLM(OpenAIClientConfig(base_url=f"http://127.0.0.1:{srv.port}/v1", max_retries=10,
                                           backoff_s=0.2, request_timeout_s=1.0))
    reply = _generate_in_thread(vlm, "a server answering 503")
    assert not reply.ok and "no time left for a retry within 1 s" in reply.error, reply.error
    assert 1 < vlm.attempts < 11  # 0.2 + 0.4 s of backoff fit, 0.8 more would not


def test_a_compressed_reply_is_read_once(server_factory) -> None:
    body = gzip.compress(json.dumps({"choices": [{"message": {"content": "<action>stop</action>"}}]}).encode())

    def respond(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                     + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)

    srv = server_factory(respond)
    reply = _generate_in_thread(OpenAIChatVLM(OpenAIClientConfig(base_url=f"http://127.0.0.1:{srv.port}/v1")), "gzip")
    assert reply.ok and reply.text == "<action>stop</action>", reply.error
