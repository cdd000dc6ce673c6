"""The fake over HTTPS: in-process (``tls=True``, ``certfile=``) and as a process (``python -m fake_codebuddy --tls``,
``launch.start_fake(tls=True)``).  The provider's own TLS behaviour (``ssl_verify``) is in ``faults/test_faults.py``."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from fake_codebuddy import FakeCodeBuddy
from fake_codebuddy.tls import MISSING_CRYPTOGRAPHY, make_certificates
from litellm_codebuddy.local.launch import start_fake, stop

KEY = "ck_tls.secret"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-API-Key": KEY}


def body(text: str) -> dict[str, Any]:
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": text}]
    return {"model": "gpt-5.5", "stream": True, "messages": messages}


def trusting(ca_file: str | Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


def echo_over(base_url: str, verify: ssl.SSLContext | bool) -> str:
    r = httpx.post(f"{base_url}/chat/completions", json=body("over TLS"), headers=HEADERS, verify=verify, timeout=10)
    assert r.status_code == 200
    chunks = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)


def test_tls_true_serves_https_with_its_own_ca_and_removes_it_on_stop() -> None:
    with FakeCodeBuddy(tls=True) as fake:
        assert fake.base_url.startswith("https://127.0.0.1:") and fake.ca_file is not None
        ca = Path(fake.ca_file)
        assert ca.is_file()
        assert echo_over(fake.base_url, trusting(ca)) == "Echo: over TLS"
        with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            httpx.get(fake.url + "/health", timeout=10)  # the system's trust store does not know the CA
        with pytest.raises(httpx.TransportError):
            httpx.get(fake.url.replace("https://", "http://") + "/health", timeout=10)  # plain HTTP: no answer
        assert httpx.get(fake.url + "/health", verify=trusting(ca), timeout=10).json() == {"ok": True}
    assert not ca.exists() and not ca.parent.exists()


def test_certfile_and_keyfile(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path)
    with FakeCodeBuddy(certfile=certs.cert, keyfile=certs.key) as fake:
        assert fake.url.startswith("https://") and fake.ca_file is None
        assert echo_over(fake.base_url, trusting(certs.ca)) == "Echo: over TLS"
    assert certs.cert.exists()  # the caller's files are the caller's


def _tls_pieces(fake: FakeCodeBuddy, payload: dict[str, Any]) -> list[bytes]:
    """The raw response, one item per TLS read: OpenSSL hands over one record per read."""
    data = json.dumps(payload).encode()
    head = (
        f"POST /v2/chat/completions HTTP/1.1\r\nHost: fake\r\nAuthorization: Bearer {KEY}\r\nX-API-Key: {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    )
    assert fake.ca_file is not None
    context = trusting(fake.ca_file)
    with socket.create_connection(("127.0.0.1", fake.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            sock.sendall(head.encode() + data)
            pieces = []
            while piece := sock.recv(1 << 20):
                pieces.append(piece)
    return pieces


def test_one_http_chunk_and_one_tls_record_per_sse_event() -> None:
    with FakeCodeBuddy(tls=True) as fake:
        for text in ("one two three four", "a b FAKE:comments FAKE:crlf", "FAKE:events=200"):
            pieces = _tls_pieces(fake, body(text))
            assert pieces[0].startswith(b"HTTP/1.1 200 OK") and pieces[0].endswith(b"\r\n\r\n")
            assert pieces[-1] == b"0\r\n\r\n"
            events = 0
            for piece in pieces[1:-1]:
                size, _, rest = piece.partition(b"\r\n")
                assert int(size, 16) == len(rest) - 2 and rest.endswith(b"\r\n"), piece[:80]  # one whole chunk
                assert rest.replace(b"\r\n", b"\n").count(b"data: ") == 1, piece[:80]  # holding one event
                events += 1
            assert events > 4
            assert b"data: [DONE]" in pieces[-2]


def test_launched_fake_over_tls() -> None:
    proc, url, ca_file = start_fake(extra_args=("--key", KEY), tls=True)
    try:
        assert url.startswith("https://127.0.0.1:") and url.endswith("/v2") and ca_file is not None
        assert echo_over(url, trusting(ca_file)) == "Echo: over TLS"
        with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
            echo_over(url, True)
    finally:
        stop(proc)
    assert proc.returncode == 0
    assert not Path(ca_file).exists()  # the fake removes its throw-away CA when it stops


def test_launched_fake_without_tls_has_no_ca() -> None:
    launched = start_fake(extra_args=("--key", KEY))
    try:
        assert launched.url.startswith("http://") and launched.ca_file is None
        assert echo_over(launched.url, True) == "Echo: over TLS"
    finally:
        stop(launched.proc)


def test_tls_without_cryptography_says_what_to_install() -> None:
    """``pip install .`` does not install ``cryptography``: ``--tls`` then stops at once with a clear message
    (exit status 2, nothing served), not with a traceback."""
    code = "import sys; sys.modules['cryptography'] = None; from fake_codebuddy.cli import main; sys.exit(main())"
    run = subprocess.run(
        [sys.executable, "-c", code, "--tls", "--port", "0"], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 2, run.stderr
    assert MISSING_CRYPTOGRAPHY in run.stderr and "Traceback" not in run.stderr
    assert "FAKE_CODEBUDDY_URL" not in run.stdout
