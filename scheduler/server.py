"""The scheduler's own HTTP endpoint: /healthz, /livez, /readyz (caches synced) and /metrics (Prometheus text).
Plain asyncio, one request per connection: it is polled by humans and probes, not by the cluster."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

__all__ = ["serve"]

log = logging.getLogger("scheduler.server")


async def serve(host: str, port: int, ready: Callable[[], bool], metrics: Callable[[], str]) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            path = request.split(b" ", 2)[1].decode().split("?")[0]
            if path in ("/healthz", "/livez"):
                code, body, ctype = 200, "ok", "text/plain"
            elif path == "/readyz":
                code, body, ctype = (200, "ok", "text/plain") if ready() else (503, "caches not synced", "text/plain")
            elif path == "/metrics":
                code, body, ctype = 200, metrics(), "text/plain; version=0.0.4"
            else:
                code, body, ctype = 404, "not found", "text/plain"
            data = body.encode()
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
            writer.write(f"HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(data)}\r\n"
                         f"Connection: close\r\n\r\n".encode() + data)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, IndexError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    try:
        server = await asyncio.start_server(handle, host, port)
    except OSError as exc:
        log.warning("cannot serve health and metrics on %s:%d: %s", host, port, exc)
        return
    log.info("serving /healthz and /metrics on %s:%d", host, port)
    async with server:
        await server.serve_forever()
