"""Bounded concurrency over real TLS: beyond --max-mutating-requests-inflight a write is answered 429 with
Retry-After at once, while system:masters and long-running requests are never counted."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import supervise
from tests.support.secured import Apiserver, TestPKI, start_apiserver

pytestmark = pytest.mark.e2e

TOKEN = "tok-carol-9876543210"


@pytest.fixture(scope="module")
def limited(pki: TestPKI, etcd_url: str, workdir: Path) -> Iterator[Apiserver]:
    tokens = workdir / "inflight-tokens.csv"
    tokens.write_text(f"{TOKEN},carol,2001\n")
    server = start_apiserver(pki, etcd_url, workdir / "logs", "apiserver-inflight",
                             ["--authorization-mode", "AlwaysAllow", "--token-auth-file", str(tokens),
                              "--max-mutating-requests-inflight", "1", "--max-requests-inflight", "1"])
    try:
        yield server
    finally:
        server.stop()


def _hold_a_write(server: Apiserver, pki: TestPKI) -> ssl.SSLSocket:
    """A POST whose body never finishes: it stays in flight until the socket closes."""
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    conn = pki.ssl_context(None).wrap_socket(raw, server_hostname="127.0.0.1")
    conn.sendall(b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000\r\n\r\n{\"metadata\":")
    return conn


def test_a_write_beyond_the_limit_is_429_and_masters_are_exempt(limited: Apiserver, pki: TestPKI,
                                                                  run_id: str) -> None:
    held = _hold_a_write(limited, pki)
    try:
        body = {"metadata": {"name": f"second-{run_id}"}}
        with limited.http(None, headers={"Authorization": f"Bearer {TOKEN}"}) as carol:
            def refused() -> bool:
                resp = carol.post("/api/v1/namespaces/default/configmaps", json=body)
                return resp.status_code == 429
            supervise.wait_for(refused, 10, "the held write to count")
            resp = carol.post("/api/v1/namespaces/default/configmaps", json=body)
            assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"
            status = resp.json()
            assert status["reason"] == "TooManyRequests" and status["details"] == {"retryAfterSeconds": 1}
            assert status["message"] == "Too many requests, please try again later."
            assert carol.get("/api/v1/namespaces/default/configmaps").status_code == 200  # reads count apart
        with limited.http() as admin:
            assert admin.post("/api/v1/namespaces/default/configmaps", json=body).status_code == 201
            assert admin.delete(f"/api/v1/namespaces/default/configmaps/second-{run_id}").status_code == 200
    finally:
        held.close()
    with limited.http(None, headers={"Authorization": f"Bearer {TOKEN}"}) as carol:
        supervise.wait_for(lambda: carol.post("/api/v1/namespaces/default/configmaps", json={
            "metadata": {"name": f"third-{run_id}"}}).status_code == 201, 10, "the slot to be free again")
        assert carol.delete(f"/api/v1/namespaces/default/configmaps/third-{run_id}").status_code == 200
