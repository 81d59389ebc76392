"""The body limit middleware alone: refused before reading when declared too large, stopped mid-stream when the
count passes the limit, and everything else passed through untouched."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest
from starlette.requests import Request

from apiserver.limits import DEFAULT_MAX_REQUEST_BODY_BYTES, BodyLimitMiddleware
from apiserver.main import duration

Message = dict[str, Any]


def http_scope(method: str = "POST", headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": "/api/v1/namespaces/default/configmaps",
            "headers": headers or [], "query_string": b""}


class Client:
    """The server side of one request: hands out body chunks (counting them) and records what is sent."""

    def __init__(self, chunks: list[bytes], disconnect_after: bool = False) -> None:
        self.chunks = list(chunks)
        self.delivered = 0
        self.disconnect_after = disconnect_after
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if not self.chunks:
            return {"type": "http.disconnect"}
        self.delivered += 1
        body = self.chunks.pop(0)
        more = bool(self.chunks) or self.disconnect_after
        return {"type": "http.request", "body": body, "more_body": more}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return next(m["status"] for m in self.sent if m["type"] == "http.response.start")

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(next(m["headers"] for m in self.sent if m["type"] == "http.response.start"))

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


async def echo_length(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An app that reads the whole body the way the routes do (Starlette's Request.body) and answers its size."""
    body = await Request(scope, receive).body()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(len(body)).encode()})


async def test_declared_length_over_the_limit_is_refused_without_reading() -> None:
    client = Client([b"x" * 100])
    called = False

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal called
        called = True

    await BodyLimitMiddleware(app, max_bytes=10)(http_scope(headers=[(b"content-length", b"11")]),
                                                 client.receive, client.send)
    assert not called and client.delivered == 0
    assert client.status == 413
    assert client.headers[b"connection"] == b"close"
    status = json.loads(client.body)
    assert status == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": "Request entity too large: limit is 10", "reason": "RequestEntityTooLarge",
                      "code": 413}


async def test_streamed_body_is_cut_once_the_count_passes_the_limit() -> None:
    client = Client([b"x" * 4] * 1000)  # no Content-Length: chunked
    await BodyLimitMiddleware(echo_length, max_bytes=10)(http_scope(), client.receive, client.send)
    assert client.status == 413
    assert client.delivered == 3  # 4 + 4 + 4 > 10: not one chunk more is asked for
    assert [m["type"] for m in client.sent] == ["http.response.start", "http.response.body"]


async def test_app_answer_after_the_refusal_is_dropped() -> None:
    """An app that catches the refusal and answers its own error (FastAPI turns body errors into 400) still
    yields exactly one 413."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await Request(scope, receive).body()
        except Exception:
            await send({"type": "http.response.start", "status": 400, "headers": []})
            await send({"type": "http.response.body", "body": b"bad"})

    client = Client([b"x" * 8] * 3)
    await BodyLimitMiddleware(app, max_bytes=10)(http_scope(), client.receive, client.send)
    assert client.status == 413
    assert len(client.sent) == 2


@pytest.mark.parametrize("size", [0, 9, 10])
async def test_bodies_up_to_the_limit_pass(size: int) -> None:
    client = Client([b"x" * size])
    await BodyLimitMiddleware(echo_length, max_bytes=10)(
        http_scope(headers=[(b"content-length", str(size).encode())]), client.receive, client.send)
    assert client.status == 200 and client.body == str(size).encode()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_get_and_head_are_untouched(method: str) -> None:
    client = Client([b"x" * 100])
    await BodyLimitMiddleware(echo_length, max_bytes=10)(
        http_scope(method, [(b"content-length", b"100")]), client.receive, client.send)
    assert client.status == 200 and client.body == b"100"


async def test_websocket_scopes_are_untouched() -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope["type"], receive, send))

    client = Client([])
    await BodyLimitMiddleware(app, max_bytes=1)({"type": "websocket", "headers": []}, client.receive, client.send)
    assert seen == [("websocket", client.receive, client.send)]


async def test_zero_turns_the_limit_off() -> None:
    client = Client([b"x" * 1000])
    await BodyLimitMiddleware(echo_length, max_bytes=0)(http_scope(), client.receive, client.send)
    assert client.status == 200 and client.body == b"1000"


async def test_client_leaving_mid_body_is_not_an_error() -> None:
    client = Client([b"x" * 4], disconnect_after=True)
    await BodyLimitMiddleware(echo_length, max_bytes=10)(http_scope(), client.receive, client.send)
    assert client.sent == []


async def test_other_errors_of_the_app_propagate() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    client = Client([b"x"])
    with pytest.raises(RuntimeError):
        await BodyLimitMiddleware(app, max_bytes=10)(http_scope(), client.receive, client.send)


def test_default_limit_is_kubernetes_3_mib() -> None:
    assert DEFAULT_MAX_REQUEST_BODY_BYTES == 3 * 1024 * 1024


@pytest.mark.parametrize(("text", "seconds"), [("2", 2.0), ("0", 0.0), ("0.5", 0.5), ("5m", 300.0),
                                               ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0)])
def test_duration_flags_take_seconds_or_go_durations(text: str, seconds: float) -> None:
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m", "-1", "1m-2s"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        duration(text)
