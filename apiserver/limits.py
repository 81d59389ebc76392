"""The request body limit, enforced while the body is read and before anything parses it.

kube-apiserver refuses a body over 3 MiB with 413 RequestEntityTooLarge ("Request entity too large: limit is
3145728"). This pure ASGI middleware does the same without holding the body: a Content-Length over the limit is
refused before a byte of the body is read, and a chunked body is counted as the app's `receive` delivers it, so
the app is stopped as soon as the count passes the limit (at most one more chunk than the limit is ever held).
The answer closes the connection (`Connection: close`), so the server does not go on reading an unwanted body.
WebSocket scopes and GET/HEAD requests pass untouched.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.requests import ClientDisconnect

from kube import errors

__all__ = ["DEFAULT_MAX_REQUEST_BODY_BYTES", "BodyLimitMiddleware"]

log = logging.getLogger("apiserver.limits")

#: kube-apiserver's MaxRequestBodyBytes
DEFAULT_MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024

Scope = dict[str, Any]
Message = dict[str, Any]

_UNLIMITED_METHODS = frozenset({"GET", "HEAD"})


class _BodyTooLarge(Exception):
    """Raised from the wrapped `receive` to unwind the app; never seen outside this module."""


class BodyLimitMiddleware:
    """Answer 413 (a Kubernetes Status) to any request whose body is over `max_bytes`; 0 turns the limit off."""

    def __init__(self, app: Any, max_bytes: int = DEFAULT_MAX_REQUEST_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.max_bytes <= 0 or scope.get("method") in _UNLIMITED_METHODS:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        limit = self.max_bytes
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message: Message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the app says after the refusal (its own error for the exception) is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except ClientDisconnect:
            # The client left (or the server's body timeout cut it) before its body was complete: nobody is
            # there to answer, and it is not a server error worth a traceback.
            log.debug("client disconnected while sending %s %s", scope.get("method"), scope.get("path"))
            return
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        body = json.dumps(errors.RequestEntityTooLarge.limit(self.max_bytes).to_status(),
                          separators=(",", ":")).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]})
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP parser refuses a malformed length before the app is called
    return None
