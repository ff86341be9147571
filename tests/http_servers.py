"""Misbehaving HTTP servers on 127.0.0.1 for client tests (imported as ``http_servers``)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

Respond = Callable[[socket.socket, bytes, threading.Event], None]


class RawServer:
    """A TCP server answering each connection's one request with ``respond(conn, request_line, stop)``.

    Every connection serves one request (responses should say ``Connection: close``); ``requests``
    lists the request lines seen, in order.
    """

    def __init__(self, respond: Respond) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.respond = respond
        self.requests: list[bytes] = []
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5.0)
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(65536)
                if not data:
                    return
                head += data
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            body = head.split(b"\r\n\r\n", 1)[1]
            while len(body) < length:
                body += conn.recv(65536)
            self.requests.append(head.split(b"\r\n", 1)[0])
            with contextlib.suppress(OSError):  # the client gave up: that is what the tests want
                self.respond(conn, self.requests[-1], self.stop)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def trickle(interval_s: float) -> Respond:
    """Headers at once, then one byte of a long body every ``interval_s`` (a byte every 2 s in the report)."""
    def respond(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n"
                     b"Connection: close\r\n\r\n")
        while not stop.is_set():
            conn.sendall(b" ")
            time.sleep(interval_s)
    return respond


