"""Issue 10: the apiserver refuses what would cost it memory or descriptors, with real sockets to a real apiserver.

- a 100 MB body (once with Content-Length, once chunked) gets 413 RequestEntityTooLarge while it is read, and
  the apiserver's RSS (from /proc/PID/status) stays within 10 MB of before;
- a client that sends half its headers, or nothing, is disconnected after --request-header-timeout; one that
  sends half its body gets 408 after --request-body-timeout; idle kept-alive connections close after
  --keep-alive-timeout;
- 200 half-open connections (above --max-connections 100) hold nothing for long: the extra ones are closed at
  once, the rest at the header timeout, and a normal request is served afterwards;
- a watch outlives every one of these timeouts.

The apiserver serves TLS, as users run it: every connection here is a TLS one made as the admin (handshake done,
then the bytes under test), and a client that never completes the handshake must be held no longer than one
that never completes its headers.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cli import supervise
from tests.e2e.conftest import start_apiserver
from tests.support.secured import Apiserver, TestPKI

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT = 3.0
BODY_TIMEOUT = 3.0
KEEP_ALIVE_TIMEOUT = 2.0
MAX_CONNECTIONS = 100
LIMIT = 3 * 1024 * 1024
MB = 1024 * 1024
SLACK = 2.0  # a loaded 2-core machine may fire a timer late


@pytest.fixture(scope="module")
def limited(pki: TestPKI, etcd_url: str, workdir: Path) -> Iterator[Apiserver]:
    server = start_apiserver(pki, etcd_url, workdir / "logs", name="apiserver-limits", extra=[
        "--request-header-timeout", str(HEADER_TIMEOUT), "--request-body-timeout", str(BODY_TIMEOUT),
        "--keep-alive-timeout", str(KEEP_ALIVE_TIMEOUT), "--max-connections", str(MAX_CONNECTIONS)])
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def http(limited: Apiserver) -> Iterator[httpx.Client]:
    """The admin's client for the limited apiserver; a connection per request (kept-alive ones close in 2 s)."""
    with limited.http(timeout=5, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        yield client


def address(server: Apiserver) -> tuple[str, int]:
    return "127.0.0.1", server.port


def connect(server: Apiserver) -> ssl.SSLSocket:
    """A TLS connection as the admin, its handshake done: what any client of the apiserver opens first."""
    return server.pki.ssl_context().wrap_socket(socket.create_connection(address(server)),
                                                server_hostname="127.0.0.1")


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
    except (ConnectionResetError, ssl.SSLEOFError):
        pass
    return data


def status_of(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def send_big_body(server: Apiserver, name: str, chunked: bool, total: int = 100 * MB) -> tuple[bytes, int]:
    """POST a ConfigMap whose body is `total` bytes, all of it unless the server stops reading; the answer and
    the bytes sent."""
    head = (b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\n")
    head += b"Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {total}\r\n\r\n".encode()
    prefix = json.dumps({"metadata": {"name": name}, "data": {"k": ""}})[:-3].encode()  # ...{"k": "
    pad = b"x" * MB
    sent = 0
    with connect(server) as sock:
        sock.sendall(head)
        try:
            while sent < total:
                piece = prefix if sent == 0 else pad[:total - sent]
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent += len(piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        return read_response(sock, 10), sent


def test_a_100_mb_body_is_refused_while_reading_and_costs_no_memory(limited: Apiserver, http: httpx.Client,
                                                                       run_id: str) -> None:
    small = http.post("/api/v1/namespaces/default/configmaps",
                      json={"metadata": {"name": f"small-{run_id}"}, "data": {"k": "v"}})
    assert small.status_code == 201, small.text
    send_big_body(limited, f"warm-{run_id}", chunked=True, total=LIMIT + MB)  # warm the refusal path once
    for chunked in (False, True):
        name = f"big-{'chunked' if chunked else 'length'}-{run_id}"
        before = rss_kib(limited.daemon.pid)
        raw, sent = send_big_body(limited, name, chunked)
        after = rss_kib(limited.daemon.pid)
        code, status = status_of(raw)
        print(f"{'chunked' if chunked else 'content-length'}: sent {sent / MB:.1f} MB, "
              f"RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB")
        assert code == 413, raw[:300]
        assert status["kind"] == "Status" and status["reason"] == "RequestEntityTooLarge" and status["code"] == 413
        assert status["message"] == f"Request entity too large: limit is {LIMIT}"
        assert after - before < 10 * 1024, f"RSS grew {(after - before) / 1024:.1f} MiB"
        assert http.get(f"/api/v1/namespaces/default/configmaps/{name}").status_code == 404
    assert http.get("/readyz").status_code == 200


def test_half_sent_headers_are_disconnected_after_the_header_timeout(limited: Apiserver) -> None:
    for opening in (b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\n", b"GET /api/v1/na", b""):
        with connect(limited) as sock:
            sock.sendall(opening)
            started = time.monotonic()
            data = read_response(sock, HEADER_TIMEOUT + SLACK + 5)
            waited = time.monotonic() - started
        assert data == b"", data
        assert HEADER_TIMEOUT - 0.5 < waited < HEADER_TIMEOUT + SLACK, (opening, waited)


def test_a_client_that_never_completes_the_tls_handshake_is_disconnected_after_the_header_timeout(
        limited: Apiserver) -> None:
    for opening in (b"", b"\x16\x03\x01"):  # nothing, or the first bytes of a ClientHello record
        with socket.create_connection(address(limited)) as sock:
            sock.sendall(opening)
            started = time.monotonic()
            data = read_response(sock, HEADER_TIMEOUT + SLACK + 5)
            waited = time.monotonic() - started
        assert data == b"", data
        assert waited < HEADER_TIMEOUT + SLACK, (opening, waited)


def test_a_half_sent_body_gets_408_after_the_body_timeout(limited: Apiserver, http: httpx.Client,
                                                          run_id: str) -> None:
    name = f"half-body-{run_id}"
    body = json.dumps({"metadata": {"name": name}}).encode()
    with connect(limited) as sock:
        sock.sendall(b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body[:10]))
        started = time.monotonic()
        raw = read_response(sock, BODY_TIMEOUT + SLACK + 5)
        waited = time.monotonic() - started
    code, status = status_of(raw)
    assert code == 408 and status["code"] == 408 and status["reason"] == "Timeout", raw
    assert BODY_TIMEOUT - 0.5 < waited < BODY_TIMEOUT + SLACK
    assert http.get(f"/api/v1/namespaces/default/configmaps/{name}").status_code == 404


def test_idle_kept_alive_connections_close_after_the_keep_alive_timeout(limited: Apiserver) -> None:
    with connect(limited) as sock:
        sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock, 5).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert read_response(sock, KEEP_ALIVE_TIMEOUT + SLACK + 5) == b""
        assert time.monotonic() - started < KEEP_ALIVE_TIMEOUT + SLACK


def test_a_watch_outlives_every_timeout(limited: Apiserver, http: httpx.Client, run_id: str) -> None:
    name = f"watched-{run_id}"
    listed = http.get("/api/v1/namespaces/default/configmaps").json()
    params = {"watch": "true", "resourceVersion": listed["metadata"]["resourceVersion"]}
    with limited.http() as watching, watching.stream("GET", "/api/v1/namespaces/default/configmaps", params=params,
                                                     timeout=httpx.Timeout(30)) as stream:
        assert stream.status_code == 200
        time.sleep(max(HEADER_TIMEOUT, BODY_TIMEOUT, KEEP_ALIVE_TIMEOUT) + SLACK)
        created = http.post("/api/v1/namespaces/default/configmaps", json={"metadata": {"name": name}})
        assert created.status_code == 201, created.text
        for line in stream.iter_lines():
            event = json.loads(line)
            if event["object"]["metadata"].get("name") == name:
                assert event["type"] == "ADDED"
                break


# Last in the module: were closed TLS connections still counted, the apiserver would refuse connections after it.
def test_many_half_open_connections_do_not_keep_a_request_from_being_served(limited: Apiserver,
                                                                            http: httpx.Client) -> None:
    socks: list[ssl.SSLSocket] = []
    try:
        for _ in range(2 * MAX_CONNECTIONS):
            sock = connect(limited)
            socks.append(sock)
            with contextlib.suppress(OSError):  # one beyond the bound may be closed as its handshake ends
                sock.sendall(b"GET /api HTTP/1.1\r\nHost: x\r\n")  # never finished
        opened = time.monotonic()

        seen_closed: set[int] = set()  # the TLS layer reports the end once: remembered

        def closed(sock: ssl.SSLSocket) -> bool:
            if id(sock) in seen_closed:
                return True
            if not select.select([sock], [], [], 0)[0] and not sock.pending():
                return False
            sock.setblocking(False)  # what is readable may be a TLS record with no data (a session ticket)
            try:
                ended = sock.recv(1) == b""
            except ssl.SSLWantReadError:
                ended = False
            except OSError:  # reset, or EOF inside a record
                ended = True
            if ended:
                seen_closed.add(id(sock))
            return ended

        # Beyond the bound, connections are closed at once, long before the header timeout.
        supervise.wait_for(lambda: sum(map(closed, socks)) >= MAX_CONNECTIONS, HEADER_TIMEOUT / 2,
                           "connections beyond --max-connections to be closed")
        assert time.monotonic() - opened < HEADER_TIMEOUT
        # The rest go at the header timeout; then the server answers as usual.
        supervise.wait_for(lambda: all(map(closed, socks)), HEADER_TIMEOUT + SLACK + 5,
                           "every half-open connection to be closed")
        assert time.monotonic() - opened < HEADER_TIMEOUT + SLACK + 1
        try:
            served = http.get("/api/v1/namespaces/default").status_code == 200
        except httpx.TransportError:
            served = False
        assert served, "a connection the server closed still counts against --max-connections"
    finally:
        for sock in socks:
            sock.close()
