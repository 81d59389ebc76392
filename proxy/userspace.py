"""Userspace mode: an asyncio TCP or UDP forwarder per service port, bound on its ClusterIP (and NodePort).

The fallback where kernel rules cannot be written, or chosen by flag. Each forwarder round-robins new
connections (UDP: new client address) over the ready endpoints, with ClientIP affinity when the Service asks;
a connection to an endpoint that goes away is closed. A port with no ready endpoint has no listener, so its
address (local, see `proxy.hostnet`) refuses connections. Relaying uses protocol callbacks rather than streams,
with flow control both ways (a fast sender is paused while the other side's buffer is full).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from dataclasses import dataclass

from proxy.hostnet import HostNetwork
from proxy.model import Endpoint, Problem, ServicePort

__all__ = ["Balancer", "UserspaceBackend"]

log = logging.getLogger("proxy.userspace")

CONNECT_TIMEOUT = 3.0
UDP_IDLE_SECONDS = 30.0
MAX_UDP_SESSIONS = 4096


class Balancer:
    """Round robin over endpoints, with optional ClientIP affinity (a client sticks to its last endpoint
    for `affinity_seconds` after its last new connection)."""

    def __init__(self, endpoints: tuple[Endpoint, ...] = (), affinity_seconds: int = 0) -> None:
        self.endpoints = endpoints
        self.affinity_seconds = affinity_seconds
        self._next = 0
        self._affinity: dict[str, tuple[Endpoint, float]] = {}

    def update(self, endpoints: tuple[Endpoint, ...], affinity_seconds: int) -> None:
        self.endpoints = endpoints
        self.affinity_seconds = affinity_seconds
        live = set(endpoints)
        self._affinity = {c: v for c, v in self._affinity.items() if v[0] in live} if affinity_seconds else {}

    def candidates(self, client_ip: str, now: float | None = None) -> list[Endpoint]:
        """Endpoints to try, in order: the sticky one (if any), then round robin from the next."""
        n = len(self.endpoints)
        if not n:
            return []
        now = time.monotonic() if now is None else now
        if self.affinity_seconds:
            sticky = self._affinity.get(client_ip)
            if sticky and now - sticky[1] < self.affinity_seconds and sticky[0] in self.endpoints:
                rest = [e for e in self.endpoints if e != sticky[0]]
                return [sticky[0], *rest]
        start = self._next % n
        self._next = (start + 1) % n
        return [self.endpoints[(start + i) % n] for i in range(n)]

    def chose(self, client_ip: str, endpoint: Endpoint, now: float | None = None) -> None:
        if self.affinity_seconds:
            self._affinity[client_ip] = (endpoint, time.monotonic() if now is None else now)
            if len(self._affinity) > 65536:  # bounded: drop the oldest half
                ordered = sorted(self._affinity.items(), key=lambda kv: kv[1][1])
                self._affinity = dict(ordered[len(ordered) // 2:])


# ---------------------------------------------------------------------------- TCP


class _Upstream(asyncio.Protocol):
    def __init__(self, conn: _TcpConnection) -> None:
        self.conn = conn
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.conn.client.write(data)

    def eof_received(self) -> bool:
        return self.conn.half_close(self.conn.client)

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.close()

    def pause_writing(self) -> None:
        self.conn.client.pause_reading()

    def resume_writing(self) -> None:
        self.conn.client.resume_reading()


class _TcpConnection(asyncio.Protocol):
    """One client connection and its upstream."""

    def __init__(self, forwarder: _TcpForwarder) -> None:
        self.forwarder = forwarder
        self.client: asyncio.Transport = None  # type: ignore[assignment]
        self.upstream: asyncio.Transport | None = None
        self.endpoint: Endpoint | None = None
        self.pending: list[bytes] = []
        self.eofs = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.client = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername") or ("", 0)
        self.forwarder.spawn(self._connect(peer[0]))

    async def _connect(self, client_ip: str) -> None:
        loop = asyncio.get_running_loop()
        for endpoint in self.forwarder.balancer.candidates(client_ip):
            if self.closed:
                return
            try:
                transport, _ = await asyncio.wait_for(
                    loop.create_connection(lambda: _Upstream(self), endpoint.ip, endpoint.port), CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                log.debug("%s: endpoint %s failed: %s", self.forwarder.name, endpoint, exc)
                continue
            if self.closed:
                transport.close()
                return
            self.forwarder.balancer.chose(client_ip, endpoint)
            self.upstream, self.endpoint = transport, endpoint
            self.forwarder.track(self)
            for chunk in self.pending:
                transport.write(chunk)
            self.pending.clear()
            if self.eofs and transport.can_write_eof():
                transport.write_eof()
            return
        self.abort()  # no endpoint took it: reset, as a refused connection

    def data_received(self, data: bytes) -> None:
        if self.upstream is None:
            self.pending.append(data)
            if sum(map(len, self.pending)) > 1 << 20:
                self.client.pause_reading()
        else:
            self.upstream.write(data)

    def eof_received(self) -> bool:
        if self.upstream is None:
            self.eofs += 1
            return True
        return self.half_close(self.upstream)

    def half_close(self, towards: asyncio.Transport) -> bool:
        """One side finished sending: pass the EOF on; close when both have."""
        self.eofs += 1
        if self.eofs >= 2 or not towards.can_write_eof():
            self.close()
            return False
        towards.write_eof()
        return True

    def pause_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.client.close()  # after what is buffered is written
        if self.upstream is not None:
            self.upstream.close()
        self.forwarder.untrack(self)

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            self.client.abort()
            if self.upstream is not None:
                self.upstream.abort()
            self.forwarder.untrack(self)


class _TcpForwarder:
    def __init__(self, name: str, balancer: Balancer) -> None:
        self.name = name
        self.balancer = balancer
        self.servers: dict[tuple[str, int], asyncio.AbstractServer] = {}
        self.connections: dict[Endpoint, set[_TcpConnection]] = {}
        self.tasks: set[asyncio.Task[None]] = set()  # referenced, or pending tasks may be collected

    def spawn(self, coro: object) -> None:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def track(self, conn: _TcpConnection) -> None:
        self.connections.setdefault(conn.endpoint, set()).add(conn)  # type: ignore[arg-type]

    def untrack(self, conn: _TcpConnection) -> None:
        if conn.endpoint is not None:
            self.connections.get(conn.endpoint, set()).discard(conn)

    async def listen(self, addresses: list[tuple[str, int]]) -> list[str]:
        errors = []
        loop = asyncio.get_running_loop()
        for address in addresses:
            if address in self.servers:
                continue
            try:
                self.servers[address] = await loop.create_server(lambda: _TcpConnection(self), *address,
                                                                 reuse_address=True, backlog=1024)
            except OSError as exc:
                errors.append(f"cannot listen on {address[0]}:{address[1]}/TCP: {exc.strerror or exc}")
        for address in [a for a in self.servers if a not in addresses]:
            self.servers.pop(address).close()
        return errors

    def drop_gone(self) -> None:
        live = set(self.balancer.endpoints)
        for endpoint in [e for e in self.connections if e not in live]:
            for conn in list(self.connections.pop(endpoint)):
                conn.abort()

    async def close(self) -> None:
        await self.listen([])
        for conns in list(self.connections.values()):
            for conn in list(conns):
                conn.abort()
        self.connections.clear()
        for task in list(self.tasks):
            task.cancel()


# ---------------------------------------------------------------------------- UDP


class _UdpSession(asyncio.DatagramProtocol):
    """One client address's flow to one endpoint: replies go back through the listener it came in by."""

    def __init__(self, listener: _UdpListener, client: tuple[str, int], endpoint: Endpoint) -> None:
        self.listener, self.client, self.endpoint = listener, client, endpoint
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: list[bytes] = []
        self.last = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        for data in self.pending:
            self.transport.sendto(data)
        self.pending.clear()

    def send(self, data: bytes) -> None:
        self.last = time.monotonic()
        if self.transport is None:
            self.pending.append(data)
        else:
            self.transport.sendto(data)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.last = time.monotonic()
        if self.listener.transport is not None:
            self.listener.transport.sendto(data, self.client)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp session %s -> %s: %s", self.client, self.endpoint, exc)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _UdpListener(asyncio.DatagramProtocol):
    def __init__(self, forwarder: _UdpForwarder) -> None:
        self.forwarder = forwarder
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.forwarder.relay(self, data, addr)


class _UdpForwarder:
    def __init__(self, name: str, balancer: Balancer) -> None:
        self.name = name
        self.balancer = balancer
        self.listeners: dict[tuple[str, int], tuple[asyncio.DatagramTransport, _UdpListener]] = {}
        self.sessions: dict[tuple[str, int], _UdpSession] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def listen(self, addresses: list[tuple[str, int]]) -> list[str]:
        errors = []
        loop = asyncio.get_running_loop()
        for address in addresses:
            if address in self.listeners:
                continue
            try:
                transport, listener = await loop.create_datagram_endpoint(lambda: _UdpListener(self),
                                                                          local_addr=address)
                self.listeners[address] = (transport, listener)
            except OSError as exc:
                errors.append(f"cannot listen on {address[0]}:{address[1]}/UDP: {exc.strerror or exc}")
        for address in [a for a in self.listeners if a not in addresses]:
            self.listeners.pop(address)[0].close()
        return errors

    def relay(self, listener: _UdpListener, data: bytes, client: tuple[str, int]) -> None:
        session = self.sessions.get(client)
        if session is None or session.listener is not listener:
            candidates = self.balancer.candidates(client[0])
            if not candidates:
                return
            if len(self.sessions) >= MAX_UDP_SESSIONS:
                self.reap(force=True)
            endpoint = candidates[0]
            self.balancer.chose(client[0], endpoint)
            session = _UdpSession(listener, client, endpoint)
            self.sessions[client] = session
            task = asyncio.get_running_loop().create_task(self._open(session))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        session.send(data)

    async def _open(self, session: _UdpSession) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            sock.connect((session.endpoint.ip, session.endpoint.port))
            await asyncio.get_running_loop().create_datagram_endpoint(lambda: session, sock=sock)
        except OSError as exc:
            sock.close()
            log.debug("%s: udp endpoint %s: %s", self.name, session.endpoint, exc)
            self.sessions.pop(session.client, None)

    def reap(self, force: bool = False) -> None:
        now = time.monotonic()
        idle = sorted(self.sessions.values(), key=lambda s: s.last)
        for session in idle:
            if now - session.last > UDP_IDLE_SECONDS or (force and len(self.sessions) > MAX_UDP_SESSIONS // 2):
                self.sessions.pop(session.client, None)
                session.close()

    def drop_gone(self) -> None:
        live = set(self.balancer.endpoints)
        for client, session in list(self.sessions.items()):
            if session.endpoint not in live:
                self.sessions.pop(client, None)
                session.close()

    async def close(self) -> None:
        await self.listen([])
        for session in self.sessions.values():
            session.close()
        self.sessions.clear()
        for task in list(self.tasks):
            task.cancel()


# ---------------------------------------------------------------------------- backend


@dataclass
class _Entry:
    port: ServicePort
    forwarder: _TcpForwarder | _UdpForwarder


class UserspaceBackend:
    """Programs ServicePorts as forwarders in this process."""

    mode = "userspace"

    def __init__(self, host: HostNetwork, node_name: str = "") -> None:
        self.host = host
        self.node_name = node_name
        self.entries: dict[tuple[str, int, str], _Entry] = {}  # (cluster IP, port, protocol)
        self.rule_count = 0
        self._reaper: asyncio.Task[None] | None = None

    async def check(self) -> None:
        pass

    async def sync(self, ports: list[ServicePort]) -> list[Problem]:
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().create_task(self._reap())
        problems: list[Problem] = []
        present = await self.host.sync({sp.cluster_ip for sp in ports})
        wanted: dict[tuple[str, int, str], ServicePort] = {}
        for sp in ports:
            if sp.protocol not in ("TCP", "UDP"):
                problems.append(Problem(sp.namespace, sp.name, "FailedToProgram",
                                        f"port {sp.key}: {sp.protocol} is not supported in userspace mode"))
                continue
            wanted[(sp.cluster_ip, sp.port, sp.protocol)] = sp
        for key in [k for k in self.entries if k not in wanted]:
            await self.entries.pop(key).forwarder.close()
        for key, sp in wanted.items():
            entry = self.entries.get(key)
            if entry is None:
                balancer = Balancer()
                forwarder: _TcpForwarder | _UdpForwarder = (_TcpForwarder if sp.protocol == "TCP" else _UdpForwarder)(
                    sp.key, balancer)
                entry = self.entries[key] = _Entry(sp, forwarder)
            entry.port = sp
            # cluster traffic and NodePort traffic may see different endpoints (Local policies): the
            # forwarder balances over the cluster ones; a NodePort with Local policy uses those when they agree
            endpoints = sp.cluster_endpoints(self.node_name)
            entry.forwarder.balancer.update(endpoints, sp.affinity_seconds)
            entry.forwarder.drop_gone()
            addresses: list[tuple[str, int]] = []
            if endpoints and sp.cluster_ip in present:
                addresses.append((sp.cluster_ip, sp.port))
            if sp.node_port and sp.external_endpoints(self.node_name):
                addresses.append(("0.0.0.0", sp.node_port))
            if sp.cluster_ip not in present:
                problems.append(Problem(sp.namespace, sp.name, "FailedToProgram",
                                        f"port {sp.key}: could not add {sp.cluster_ip} to lo"))
            for message in await entry.forwarder.listen(addresses):
                problems.append(Problem(sp.namespace, sp.name, "FailedToProgram", f"port {sp.key}: {message}"))
        self.rule_count = sum(len(getattr(e.forwarder, "servers", None) or getattr(e.forwarder, "listeners", {}))
                              for e in self.entries.values())
        return problems

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(5)
            for entry in self.entries.values():
                if isinstance(entry.forwarder, _UdpForwarder):
                    entry.forwarder.reap()

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        for entry in self.entries.values():
            await entry.forwarder.close()
        self.entries.clear()

    async def cleanup(self) -> None:
        await self.close()
        await self.host.cleanup()
