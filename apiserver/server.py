"""The apiserver's HTTP server limits: header and body read timeouts, and a bound on open connections.

uvicorn (0.54, httptools) times a connection out only between requests (`timeout_keep_alive`, armed when a
response completes): a client that connects and sends nothing, or half a request line, or headers without the
body they announce, holds its connection (and a file descriptor) forever. kube-apiserver's Go server has
`ReadHeaderTimeout: 32s` and `IdleTimeout: 90s`, and its request timeout (60s) ends a request whose body never
arrives. This protocol subclass adds the same:

- the request headers must be complete `request_header_timeout` seconds after the connection opened (first
  request) or after the first byte of the next request (keep-alive), else the connection is closed;
- the body must be complete `request_body_timeout` seconds after the headers, else 408 (a Status) and close;
- beyond `max_connections` open connections, a new one is closed at once (nothing is read from it);
- a response that closes the connection before the request body was read (413 from `apiserver.limits`, the
  408 above) half-closes, discards what still arrives for a moment, then closes, as Go's server does, so the
  client reads the answer instead of a reset.

Deadlines are checked by one periodic sweep per server (every eighth of the shortest timeout, at most 1 s), not
by a timer per request. Long-running responses (watches) are untouched: their request has no body, so no read
deadline runs while the response streams, and the keep-alive timer is armed only once a response completes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
import weakref
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from apiserver.authn.x509 import ClientCAs, PeerCertificate, peer_certificate
from apiserver.coalescing import CoalescingTransport
from kube import errors

__all__ = [
    "DEFAULT_KEEP_ALIVE_TIMEOUT",
    "DEFAULT_REQUEST_BODY_TIMEOUT",
    "DEFAULT_REQUEST_HEADER_TIMEOUT",
    "LimitedHttpToolsProtocol",
    "Server",
    "ServerLimits",
    "default_max_connections",
    "peer_of",
    "protocol_class",
    "raise_open_files_limit",
]

log = logging.getLogger("apiserver.server")

DEFAULT_REQUEST_HEADER_TIMEOUT = 32.0  # kube-apiserver's ReadHeaderTimeout
DEFAULT_REQUEST_BODY_TIMEOUT = 60.0  # kube-apiserver's --request-timeout
DEFAULT_KEEP_ALIVE_TIMEOUT = 90.0  # kube-apiserver's IdleTimeout (and Go clients' idle-connection timeout)
LINGER_SECONDS = 0.5  # Go's rstAvoidanceDelay: time for the client to read the answer before the close
_REFUSAL_LOG_INTERVAL = 10.0


@dataclass(frozen=True)
class ServerLimits:
    request_header_timeout: float = DEFAULT_REQUEST_HEADER_TIMEOUT  # 0: no limit
    request_body_timeout: float = DEFAULT_REQUEST_BODY_TIMEOUT  # 0: no limit
    max_connections: int = 0  # 0: no limit
    linger: float = LINGER_SECONDS


def raise_open_files_limit() -> int:
    """Raise the soft open-files limit to the hard one (as the Go runtime does for kube-apiserver); the new soft."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft == resource.RLIM_INFINITY or soft >= hard:
        return soft if soft != resource.RLIM_INFINITY else hard
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        return soft
    return hard


def default_max_connections(open_files: int) -> int:
    """Connections allowed with `open_files` descriptors: a tenth (at least 256) kept for etcd, kubelets, logs."""
    return max(16, open_files - max(256, open_files // 10))


def protocol_class(limits: ServerLimits, client_cas: ClientCAs | None = None) -> type[LimitedHttpToolsProtocol]:
    """A protocol class for `uvicorn.Config(http=...)` with these limits and the CAs client certificates are
    verified against (uvicorn instantiates it per connection)."""
    return type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,), {"limits": limits, "client_cas": client_cas})


class _CycleTransport:
    """The transport one request's response writes to: its close() goes through the protocol's lingering close.
    write and is_closing are the real transport's bound methods (no extra call on the hot path); the protocol and
    the cycle are held weakly, so no reference cycle outlives the request (the garbage collector stays idle)."""

    __slots__ = ("_cycle", "_protocol", "_transport", "is_closing", "write")

    def __init__(self, protocol: LimitedHttpToolsProtocol, cycle: RequestResponseCycle) -> None:
        self._protocol = weakref.ref(protocol)
        self._cycle = weakref.ref(cycle)
        self._transport = protocol.transport
        self.write = protocol.transport.write
        self.is_closing = protocol.transport.is_closing

    def close(self) -> None:
        protocol, cycle = self._protocol(), self._cycle()
        if protocol is None or cycle is None:
            self._transport.close()
        else:
            protocol.close_after_response(cycle)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _Sweeper:
    """One periodic look at every connection's read deadline, per server: per request, a deadline is a float
    stored, not a timer armed and cancelled (which cost more than the rest of these limits together)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self.loop = loop
        self.interval = interval
        self.protocols: set[LimitedHttpToolsProtocol] = set()
        self._handle: asyncio.TimerHandle | None = None

    def add(self, protocol: LimitedHttpToolsProtocol) -> None:
        self.protocols.add(protocol)
        if self._handle is None:
            self._handle = self.loop.call_later(self.interval, self._sweep)

    def discard(self, protocol: LimitedHttpToolsProtocol) -> None:
        self.protocols.discard(protocol)

    def _sweep(self) -> None:
        self._handle = None
        now = self.loop.time()
        for protocol in [p for p in self.protocols if p.deadline and now >= p.deadline]:
            protocol.deadline_passed()
        if self.protocols:
            self._handle = self.loop.call_later(self.interval, self._sweep)


#: the client certificate of each open TLS connection (verified or not: see its error), by the client address
#: the ASGI scope carries
_PEERS: dict[tuple[str, int], PeerCertificate] = {}


def peer_of(client: tuple[str, int]) -> PeerCertificate | None:
    """The client certificate of the connection a request came on (uvicorn's scope has no TLS extension)."""
    return _PEERS.get(client)


TLS_SHUTDOWN_SECONDS = 0.1  # how long a closing TLS connection waits for the peer's close_notify (Go: not at all)


class Server(uvicorn.Server):
    """uvicorn's server with its TLS bounded like the rest: a handshake must end within the header timeout (Go
    bounds it by ReadHeaderTimeout; asyncio's default is 60 s), and a closed connection stops counting after
    TLS_SHUTDOWN_SECONDS instead of asyncio's 30 s wait for a close_notify that may never come. uvicorn does not
    pass these to create_server, so they are added to its call."""

    def __init__(self, config: uvicorn.Config, limits: ServerLimits) -> None:
        super().__init__(config)
        self.tls_timeouts = {"ssl_shutdown_timeout": TLS_SHUTDOWN_SECONDS}
        if limits.request_header_timeout > 0:
            self.tls_timeouts["ssl_handshake_timeout"] = limits.request_header_timeout

    async def startup(self, sockets: Any = None) -> None:
        loop = asyncio.get_running_loop()
        create_server = loop.create_server

        async def bounded(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("ssl") is not None:
                kwargs = {**self.tls_timeouts, **kwargs}
            return await create_server(*args, **kwargs)

        loop.create_server = bounded  # type: ignore[method-assign]
        try:
            await super().startup(sockets)
        finally:
            loop.create_server = create_server  # type: ignore[method-assign]


_SWEEPERS: weakref.WeakKeyDictionary[ServerState, _Sweeper] = weakref.WeakKeyDictionary()

_IDLE, _HEADERS, _BODY = 0, 1, 2


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with read timeouts, a connection bound and a lingering close."""

    limits: ServerLimits = ServerLimits()
    client_cas: ClientCAs | None = None
    _last_refusal_log = 0.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = 0.0  # loop time by which the current phase must end; 0: none
        self._timeouts = (0.0, self.limits.request_header_timeout, self.limits.request_body_timeout)
        self._phase = _IDLE
        self._lingering = False
        self._linger_timer: asyncio.TimerHandle | None = None
        self._sweeper: _Sweeper | None = None

    # ------------------------------------------------------------------ connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._peer_key: tuple[str, int] | None = None
        peer = peer_certificate(transport, self.client_cas)
        if peer is not None and self.client:
            self._peer_key = (str(self.client[0]), int(self.client[1]))
            _PEERS[self._peer_key] = peer
        self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]
        limit = self.limits.max_connections
        if limit and len(self.connections) > limit:
            self._log_refusal(limit)
            transport.close()
            return
        timeouts = [t for t in (self.limits.request_header_timeout, self.limits.request_body_timeout) if t > 0]
        if timeouts:
            self._sweeper = _SWEEPERS.get(self.server_state)
            if self._sweeper is None:
                interval = min(1.0, max(0.05, min(timeouts) / 8))
                self._sweeper = _SWEEPERS[self.server_state] = _Sweeper(self.loop, interval)
            self._sweeper.add(self)
        self._start(_HEADERS)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._peer_key is not None:
            _PEERS.pop(self._peer_key, None)
        self._start(_IDLE)
        if self._sweeper is not None:
            self._sweeper.discard(self)
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the answer is sent: what the client still sends is discarded until the close
        super().data_received(data)

    def handle_websocket_upgrade(self) -> None:
        if isinstance(self.transport, CoalescingTransport):  # the WebSocket protocol writes frames itself
            self.transport.flush()
            self.transport = self.transport.wrapped
        self._start(_IDLE)
        if self._sweeper is not None:
            self._sweeper.discard(self)
        super().handle_websocket_upgrade()

    # ------------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._phase:  # the first request's deadline runs from the connection's opening
            self._start(_HEADERS)

    def on_headers_complete(self) -> None:
        cycle = self.cycle
        super().on_headers_complete()
        if self.cycle is cycle or self.parser.should_upgrade():
            self._start(_IDLE)  # a WebSocket (or other) upgrade: no HTTP body follows
            return
        if self.scope["method"] not in ("GET", "HEAD"):  # a GET's close never waits for a body: keep it cheap
            self.cycle.transport = _CycleTransport(self, self.cycle)  # type: ignore[assignment]
        self._start(_BODY)

    def on_message_complete(self) -> None:
        self._phase, self.deadline = _IDLE, 0.0
        super().on_message_complete()

    # ------------------------------------------------------------------ timeouts and closing

    def _start(self, phase: int) -> None:
        timeout = self._timeouts[phase]
        if timeout > 0:
            self._phase, self.deadline = phase, self.loop.time() + timeout
        else:
            self._phase, self.deadline = _IDLE, 0.0

    def deadline_passed(self) -> None:
        """Called by the sweeper once the current phase's deadline has passed."""
        phase = self._phase
        self._start(_IDLE)
        if self.transport.is_closing():
            return
        if phase == _HEADERS:
            log.debug("closing %s: request headers not complete within %ss", self.client,
                      self.limits.request_header_timeout)
            self.transport.close()
        elif phase == _BODY and self.cycle is not None and self.cycle.more_body:
            self._body_timed_out(self.cycle)

    def close_after_response(self, cycle: RequestResponseCycle) -> None:
        """Close; if the request's body is still arriving, half-close first and discard it for `linger` seconds."""
        if self.transport.is_closing():
            return
        if not cycle.more_body or self._lingering or not self.transport.can_write_eof():
            self.transport.close()
            return
        self._lingering = True
        self._start(_IDLE)
        self.flow.resume_reading()  # keep draining the socket, so the close that follows sends FIN, not RST
        self.transport.write_eof()
        self._linger_timer = self.loop.call_later(self.limits.linger, self.transport.close)

    def _body_timed_out(self, cycle: RequestResponseCycle) -> None:
        timeout = self.limits.request_body_timeout
        log.debug("closing %s: request body not complete within %ss", self.client, timeout)
        if not cycle.response_started:
            err = errors.ApiError(f"Timeout: the request body was not received within {timeout:g}s",
                                  reason="Timeout", code=408)
            body = json.dumps(err.to_status(), separators=(",", ":")).encode()
            head = [STATUS_LINE[408]]
            for name, value in [*self.server_state.default_headers, (b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()), (b"connection", b"close")]:
                head.extend([name, b": ", value, b"\r\n"])
            self.transport.write(b"".join([*head, b"\r\n", body]))
        # The app's request task sees a disconnect; whatever it answers later is dropped.
        cycle.disconnected = True
        cycle.message_event.set()
        self.close_after_response(cycle)

    @classmethod
    def _log_refusal(cls, limit: int) -> None:
        now = time.monotonic()
        if now - LimitedHttpToolsProtocol._last_refusal_log >= _REFUSAL_LOG_INTERVAL:
            LimitedHttpToolsProtocol._last_refusal_log = now
            log.warning("refusing connections: %d open (--max-connections)", limit)
