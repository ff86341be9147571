"""policy_server: the bearer token is enforced in every mode, and a network bind needs one (or --insecure)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from helpers import wait_for

from r1_core.server import main
from r1_core.testing.http import free_port

REPLY = "<think>clear</think><action>stop</action>"


@pytest.mark.parametrize("mode", [["--replies", "REPLIES"], ["--model", "/nonexistent/model"]],
                         ids=["replies", "model"])
def test_a_network_bind_without_a_key_refuses_to_start(tmp_path: Path, monkeypatch, caplog, mode) -> None:
    replies = tmp_path / "r.txt"
    replies.write_text(REPLY + "\n")
    monkeypatch.delenv("R1_POLICY_API_KEY", raising=False)
    argv = [a.replace("REPLIES", str(replies)) for a in mode] + ["--host", "0.0.0.0", "--port", "1"]
    assert main(argv) == 2  # before any model loads or any port is bound
    assert "refusing to listen on 0.0.0.0 without a bearer token" in caplog.text
    assert "--insecure" in caplog.text


def test_replies_mode_enforces_the_key(tmp_path: Path) -> None:
    replies = tmp_path / "r.txt"
    replies.write_text(REPLY + "\n")
    port = free_port()
    env = {**os.environ, "R1_POLICY_API_KEY": "s3cret"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from r1_core.server import main; sys.exit(main())",
         "--replies", str(replies), "--host", "0.0.0.0", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{base}/health", timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return proc.poll() is not None
        assert wait_for(up, 30.0) and proc.poll() is None, "server did not start"
        body = {"messages": [{"role": "user", "content": "go"}]}
        anonymous = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=10.0)
        wrong = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=10.0,
                           headers={"Authorization": "Bearer nope"})
        right = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=10.0,
                           headers={"Authorization": "Bearer s3cret"})
        assert anonymous.status_code == 401 and wrong.status_code == 401
        assert right.status_code == 200 and right.json()["choices"][0]["message"]["content"] == REPLY
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
