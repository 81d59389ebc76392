"""One write per response: the writes a connection makes within one turn of the event loop go out together.

uvicorn writes a response's head and its body as two `transport.write` calls. Over TLS each call is a TLS
record, an encryption pass and a socket send of its own (uvloop's TLS transport flushes on every write); merged,
a small response costs one of each, which is most of what TLS adds to a get. Nothing waits longer than the turn
of the loop the write was made in: a streamed response's head (a watch) still leaves before its first event.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["JOIN_LIMIT", "CoalescingTransport"]

JOIN_LIMIT = 64 * 1024  # below this the parts are copied into one buffer; above, handed over as a list


class CoalescingTransport:
    """Wraps a transport: write() collects, the flush at the end of the loop's turn sends; close and write_eof
    flush first. Everything else is the wrapped transport's."""

    __slots__ = ("_loop", "_pending", "_size", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._size = 0

    @property
    def wrapped(self) -> asyncio.Transport:
        return self._transport

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data) if not isinstance(data, bytes) else data)
        self._size += len(data)

    def writelines(self, parts: Any) -> None:
        for part in parts:
            self.write(part)

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        size, self._size = self._size, 0
        if not pending or self._transport.is_closing():
            return
        if len(pending) == 1:
            self._transport.write(pending[0])
        elif size <= JOIN_LIMIT:
            self._transport.write(b"".join(pending))
        else:
            self._transport.writelines(pending)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def get_write_buffer_size(self) -> int:
        return self._size + self._transport.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
