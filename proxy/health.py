"""A small HTTP endpoint for the proxy and DNS daemons: `/healthz` (`/livez`, `/readyz`) and `/metrics`.

Plain asyncio, no framework: two fixed text answers do not need one. When the port is taken (several
clusters on one host) a free port is used instead and logged.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Callable

__all__ = ["serve_health"]

log = logging.getLogger("proxy.health")


async def serve_health(address: str, healthy: Callable[[], bool], metrics: Callable[[], dict[str, float]],
                       prefix: str) -> asyncio.AbstractServer | None:
    """Serve on `host:port` ("" or port 0 disables); the server, or None."""
    host, _, port_text = address.rpartition(":")
    if not address or not port_text or int(port_text) == 0:
        return None

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)).strip():
                pass
            path = request.decode(errors="replace").split(" ")[1] if b" " in request else "/"
            if path.startswith("/metrics"):
                status = "200 OK"
                body = "".join(f"{prefix}_{k} {float(v)}\n" for k, v in metrics().items())
            elif path.split("?")[0] in ("/healthz", "/livez", "/readyz"):
                ok = healthy()
                status, body = ("200 OK", "ok\n") if ok else ("503 Service Unavailable", "not synced\n")
            else:
                status, body = "404 Not Found", "not found\n"
            data = body.encode()
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
            await writer.drain()
        except (OSError, TimeoutError, IndexError):
            pass
        finally:
            writer.close()

    try:
        return await asyncio.start_server(handle, host or "127.0.0.1", int(port_text))
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        server = await asyncio.start_server(handle, host or "127.0.0.1", 0)
        log.warning("health port %s is in use; serving health on port %d instead", port_text,
                    server.sockets[0].getsockname()[1])
        return server
