"""Issue 10: the apiserver refuses what would cost it memory or descriptors, with real sockets to a real apiserver.

- a 100 MB body (once with Content-Length, once chunked) gets 413 RequestEntityTooLarge while it is read, and
  the apiserver's RSS (from /proc/PID/status) stays within 10 MB of before;
- a client that sends half its headers, or nothing, is disconnected after --request-header-timeout; one that
  sends half its body gets 408 after --request-body-timeout; idle kept-alive connections close after
  --keep-alive-timeout;
- 200 half-open connections (above --max-connections 100) hold nothing for long: the extra ones are closed at
  once, the rest at the header timeout, and a normal request is served afterwards;
- a watch outlives every one of these timeouts.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cli import supervise
from tests.e2e.conftest import start_apiserver

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT = 3.0
BODY_TIMEOUT = 3.0
KEEP_ALIVE_TIMEOUT = 2.0
MAX_CONNECTIONS = 100
LIMIT = 3 * 1024 * 1024
MB = 1024 * 1024
SLACK = 2.0  # a loaded 2-core machine may fire a timer late


@pytest.fixture(scope="module")
def limited(etcd_url: str, workdir: Path) -> Iterator[tuple[str, supervise.Daemon]]:
    url, daemon = start_apiserver(etcd_url, workdir / "logs", name="apiserver-limits", extra=[
        "--request-header-timeout", str(HEADER_TIMEOUT), "--request-body-timeout", str(BODY_TIMEOUT),
        "--keep-alive-timeout", str(KEEP_ALIVE_TIMEOUT), "--max-connections", str(MAX_CONNECTIONS)])
    try:
        yield url, daemon
    finally:
        supervise.stop(daemon)


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def read_response(sock: socket.socket, timeout: float) -> bytes:
    """What the server sends until it closes or one answer with a Content-Length is complete (a reset after the
    answer is fine)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            lengths = [int(line.split(b":", 1)[1]) for line in head.lower().split(b"\r\n")
                       if line.startswith(b"content-length:")]
            if sep and lengths and len(body) >= lengths[0]:
                break
    except ConnectionResetError:
        pass
    return data


def status_of(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def send_big_body(url: str, name: str, chunked: bool, total: int = 100 * MB) -> tuple[bytes, int]:
    """POST a ConfigMap whose body is `total` bytes, all of it unless the server stops reading; the answer and
    the bytes sent."""
    head = (b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\n")
    head += b"Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {total}\r\n\r\n".encode()
    prefix = json.dumps({"metadata": {"name": name}, "data": {"k": ""}})[:-3].encode()  # ...{"k": "
    pad = b"x" * MB
    sent = 0
    with socket.create_connection(address(url)) as sock:
        sock.sendall(head)
        try:
            while sent < total:
                piece = prefix if sent == 0 else pad[:total - sent]
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent += len(piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_response(sock, 10), sent


def test_a_100_mb_body_is_refused_while_reading_and_costs_no_memory(limited: tuple[str, supervise.Daemon],
                                                                       run_id: str) -> None:
    url, daemon = limited
    small = httpx.post(f"{url}/api/v1/namespaces/default/configmaps",
                       json={"metadata": {"name": f"small-{run_id}"}, "data": {"k": "v"}})
    assert small.status_code == 201, small.text
    send_big_body(url, f"warm-{run_id}", chunked=True, total=LIMIT + MB)  # warm the refusal path once
    for chunked in (False, True):
        name = f"big-{'chunked' if chunked else 'length'}-{run_id}"
        before = rss_kib(daemon.pid)
        raw, sent = send_big_body(url, name, chunked)
        after = rss_kib(daemon.pid)
        code, status = status_of(raw)
        print(f"{'chunked' if chunked else 'content-length'}: sent {sent / MB:.1f} MB, "
              f"RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB")
        assert code == 413, raw[:300]
        assert status["kind"] == "Status" and status["reason"] == "RequestEntityTooLarge" and status["code"] == 413
        assert status["message"] == f"Request entity too large: limit is {LIMIT}"
        assert after - before < 10 * 1024, f"RSS grew {(after - before) / 1024:.1f} MiB"
        assert httpx.get(f"{url}/api/v1/namespaces/default/configmaps/{name}").status_code == 404
    assert httpx.get(f"{url}/readyz").status_code == 200


def test_half_sent_headers_are_disconnected_after_the_header_timeout(limited: tuple[str, supervise.Daemon]) -> None:
    url, _ = limited
    for opening in (b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\n", b"GET /api/v1/na", b""):
        with socket.create_connection(address(url)) as sock:
            sock.sendall(opening)
            started = time.monotonic()
            data = read_response(sock, HEADER_TIMEOUT + SLACK + 5)
            waited = time.monotonic() - started
        assert data == b"", data
        assert HEADER_TIMEOUT - 0.5 < waited < HEADER_TIMEOUT + SLACK, (opening, waited)


def test_a_half_sent_body_gets_408_after_the_body_timeout(limited: tuple[str, supervise.Daemon],
                                                          run_id: str) -> None:
    url, _ = limited
    name = f"half-body-{run_id}"
    body = json.dumps({"metadata": {"name": name}}).encode()
    with socket.create_connection(address(url)) as sock:
        sock.sendall(b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body[:10]))
        started = time.monotonic()
        raw = read_response(sock, BODY_TIMEOUT + SLACK + 5)
        waited = time.monotonic() - started
    code, status = status_of(raw)
    assert code == 408 and status["code"] == 408 and status["reason"] == "Timeout", raw
    assert BODY_TIMEOUT - 0.5 < waited < BODY_TIMEOUT + SLACK
    assert httpx.get(f"{url}/api/v1/namespaces/default/configmaps/{name}").status_code == 404


def test_idle_kept_alive_connections_close_after_the_keep_alive_timeout(
        limited: tuple[str, supervise.Daemon]) -> None:
    url, _ = limited
    with socket.create_connection(address(url)) as sock:
        sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock, 5).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert read_response(sock, KEEP_ALIVE_TIMEOUT + SLACK + 5) == b""
        assert time.monotonic() - started < KEEP_ALIVE_TIMEOUT + SLACK


def test_many_half_open_connections_do_not_keep_a_request_from_being_served(
        limited: tuple[str, supervise.Daemon]) -> None:
    url, _ = limited
    socks = []
    try:
        for _ in range(2 * MAX_CONNECTIONS):
            sock = socket.create_connection(address(url))
            sock.sendall(b"GET /api HTTP/1.1\r\nHost: x\r\n")  # never finished
            socks.append(sock)
        opened = time.monotonic()

        def closed(sock: socket.socket) -> bool:
            if not select.select([sock], [], [], 0)[0]:
                return False
            try:
                return sock.recv(1, socket.MSG_PEEK) == b""
            except ConnectionResetError:
                return True

        # Beyond the bound, connections are closed at once, long before the header timeout.
        supervise.wait_for(lambda: sum(map(closed, socks)) >= MAX_CONNECTIONS, HEADER_TIMEOUT / 2,
                           "connections beyond --max-connections to be closed")
        assert time.monotonic() - opened < HEADER_TIMEOUT
        # The rest go at the header timeout; then the server answers as usual.
        supervise.wait_for(lambda: all(map(closed, socks)), HEADER_TIMEOUT + SLACK + 5,
                           "every half-open connection to be closed")
        assert time.monotonic() - opened < HEADER_TIMEOUT + SLACK + 1
        assert httpx.get(f"{url}/api/v1/namespaces/default", timeout=5).status_code == 200
    finally:
        for sock in socks:
            sock.close()


def test_a_watch_outlives_every_timeout(limited: tuple[str, supervise.Daemon], run_id: str) -> None:
    url, _ = limited
    name = f"watched-{run_id}"
    listed = httpx.get(f"{url}/api/v1/namespaces/default/configmaps").json()
    params = {"watch": "true", "resourceVersion": listed["metadata"]["resourceVersion"]}
    with httpx.stream("GET", f"{url}/api/v1/namespaces/default/configmaps", params=params,
                      timeout=httpx.Timeout(30)) as stream:
        assert stream.status_code == 200
        time.sleep(max(HEADER_TIMEOUT, BODY_TIMEOUT, KEEP_ALIVE_TIMEOUT) + SLACK)
        created = httpx.post(f"{url}/api/v1/namespaces/default/configmaps", json={"metadata": {"name": name}})
        assert created.status_code == 201, created.text
        for line in stream.iter_lines():
            event = json.loads(line)
            if event["object"]["metadata"].get("name") == name:
                assert event["type"] == "ADDED"
                break
