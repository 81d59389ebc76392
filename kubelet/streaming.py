"""`kubectl exec` over a WebSocket: the Kubernetes channel protocol bridged to a `docker exec` session.

Subprotocols `v5.channel.k8s.io` (preferred; kubectl 1.30+) and `v4.channel.k8s.io`. Every binary frame
starts with a channel byte:

    0 stdin (client -> server)     1 stdout      2 stderr      3 error: a v1 Status, sent once at the end
    4 resize: {"Width": w, "Height": h}        255 (v5 only): close, next byte the channel (255 0 = stdin EOF)

The exit code travels in the Status: `Success`, or `Failure` with reason NonZeroExitCode and a cause
`{"reason": "ExitCode", "message": "3"}`, which kubectl turns into its own exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kubelet.runtime import ExecSession

__all__ = [
    "CLOSE", "ERROR", "PROTOCOLS", "RESIZE", "STDERR", "STDIN", "STDOUT", "bridge", "exec_status", "pick_protocol",
]

log = logging.getLogger("kubelet.streaming")

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")


def pick_protocol(offered: list[str]) -> str | None:
    """The subprotocol to answer with: the best one both sides speak, in our order of preference."""
    return next((p for p in PROTOCOLS if p in offered), None)


def exec_status(exit_code: int | None, message: str = "") -> dict[str, Any]:
    """The Status sent on the error channel when the command ended (or could not run)."""
    if exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    if exit_code is None:
        return {"metadata": {}, "status": "Failure", "message": message or "the command's exit code is unknown",
                "reason": "InternalError", "code": 500}
    return {
        "metadata": {}, "status": "Failure",
        "message": message or f"command terminated with non-zero exit code: exit status {exit_code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]},
    }


Send = Callable[[bytes], Awaitable[None]]
Receive = Callable[[], Awaitable[bytes | None]]  # None: the client went away
Resize = Callable[[int, int], Awaitable[None]]
ExitCode = Callable[[], Awaitable[int | None]]


async def bridge(session: ExecSession, send: Send, receive: Receive, resize: Resize, exit_code: ExitCode,
                 protocol: str, stdin: bool) -> None:
    """Pump the exec's output to the client and the client's stdin and resizes to the exec, then send the
    exit Status on the error channel. Returns when the command's output ended or the client left."""

    async def outbound() -> None:
        while (item := await session.read()) is not None:
            stream, data = item
            if data:
                await send(bytes([STDOUT if stream == 1 else STDERR]) + data)

    async def inbound() -> None:
        while (frame := await receive()) is not None:
            if not frame:
                continue
            channel, data = frame[0], frame[1:]
            if channel == STDIN and stdin:
                if data:
                    await session.write(data)
            elif channel == RESIZE:
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    size = json.loads(data)
                    await resize(int(size["Height"]), int(size["Width"]))
            elif channel == CLOSE and protocol.startswith("v5") and data[:1] == bytes([STDIN]):
                session.close_stdin()
        # The client is gone: nothing will read the output either.
        session.close()

    reader = asyncio.create_task(inbound())
    try:
        await outbound()
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
    code = await exit_code()
    await send(bytes([ERROR]) + json.dumps(exec_status(code)).encode())
