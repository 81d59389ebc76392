"""Userspace forwarding on loopback: round robin and ClientIP affinity, TCP relaying both ways with half-close,
connections to a removed endpoint closed, no endpoint means reset, and UDP sessions relaying replies."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from proxy.model import Endpoint
from proxy.userspace import Balancer, _TcpForwarder, _UdpForwarder

A, B, C = Endpoint("10.0.0.1", 80), Endpoint("10.0.0.2", 80), Endpoint("10.0.0.3", 80)


def test_round_robin_then_failover_order() -> None:
    balancer = Balancer((A, B, C))
    firsts = [balancer.candidates("1.1.1.1")[0] for _ in range(6)]
    assert firsts == [A, B, C, A, B, C]
    assert balancer.candidates("1.1.1.1") == [A, B, C]  # the others follow, to try when one fails


def test_client_ip_affinity_sticks_until_timeout_or_endpoint_gone() -> None:
    balancer = Balancer((A, B, C), affinity_seconds=10)
    first = balancer.candidates("1.1.1.1", now=0)[0]
    balancer.chose("1.1.1.1", first, now=0)
    assert all(balancer.candidates("1.1.1.1", now=5)[0] == first for _ in range(5))
    balancer.update(tuple(e for e in (A, B, C) if e != first), 10)
    assert balancer.candidates("1.1.1.1", now=6)[0] != first


def test_no_endpoints_no_candidates() -> None:
    assert Balancer(()).candidates("1.1.1.1") == []


@contextlib.asynccontextmanager
async def tcp_backend(name: bytes) -> AsyncIterator[Endpoint]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()  # until the client's EOF: half-close must pass through
        writer.write(name + b":" + data)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield Endpoint("127.0.0.1", server.sockets[0].getsockname()[1])
    finally:
        server.close()


async def ask(port: int, payload: bytes = b"hi") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    writer.write_eof()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data


async def test_tcp_forwarder_round_robins_and_relays_both_ways() -> None:
    async with tcp_backend(b"a") as a, tcp_backend(b"b") as b:
        forwarder = _TcpForwarder("t", Balancer((a, b)))
        assert await forwarder.listen([("127.0.0.1", 0)]) == []
        port = next(iter(forwarder.servers.values())).sockets[0].getsockname()[1]
        try:
            answers = [await ask(port, b"x" * 100_000) for _ in range(4)]
            assert sorted(a[:2] for a in answers) == [b"a:", b"a:", b"b:", b"b:"]
            assert all(len(a) == 100_002 for a in answers)
        finally:
            await forwarder.close()


async def test_tcp_forwarder_skips_a_dead_endpoint_and_resets_without_any() -> None:
    async with tcp_backend(b"a") as alive:
        dead = Endpoint("127.0.0.1", 1)
        forwarder = _TcpForwarder("t", Balancer((dead, alive)))
        await forwarder.listen([("127.0.0.1", 0)])
        port = next(iter(forwarder.servers.values())).sockets[0].getsockname()[1]
        try:
            assert [await ask(port) for _ in range(2)] == [b"a:hi", b"a:hi"]
            forwarder.balancer.update((), 0)
            with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
                data = await ask(port)
                if not data:
                    raise ConnectionResetError
        finally:
            await forwarder.close()


async def test_connections_to_a_removed_endpoint_are_closed() -> None:
    hold = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await hold.wait()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    endpoint = Endpoint("127.0.0.1", server.sockets[0].getsockname()[1])
    forwarder = _TcpForwarder("t", Balancer((endpoint,)))
    await forwarder.listen([("127.0.0.1", 0)])
    port = next(iter(forwarder.servers.values())).sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(50):
            if forwarder.connections.get(endpoint):
                break
            await asyncio.sleep(0.02)
        forwarder.balancer.update((), 0)
        forwarder.drop_gone()
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    finally:
        hold.set()
        await forwarder.close()
        server.close()


class _UdpEcho(asyncio.DatagramProtocol):
    def __init__(self, name: bytes) -> None:
        self.name = name

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(self.name + b":" + data, addr)  # type: ignore[attr-defined]


class _Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.replies.put_nowait(data)


async def test_udp_forwarder_keeps_a_session_per_client_and_relays_replies() -> None:
    loop = asyncio.get_running_loop()
    backends = []
    for name in (b"a", b"b"):
        transport, _ = await loop.create_datagram_endpoint(lambda n=name: _UdpEcho(n), local_addr=("127.0.0.1", 0))
        backends.append(transport)
    endpoints = tuple(Endpoint("127.0.0.1", t.get_extra_info("sockname")[1]) for t in backends)
    forwarder = _UdpForwarder("u", Balancer(endpoints))
    await forwarder.listen([("127.0.0.1", 0)])
    port = next(iter(forwarder.listeners.values()))[0].get_extra_info("sockname")[1]
    clients = []
    try:
        seen = []
        for _ in range(2):
            transport, client = await loop.create_datagram_endpoint(_Client, remote_addr=("127.0.0.1", port))
            clients.append(transport)
            replies = []
            for i in range(3):
                transport.sendto(f"m{i}".encode())
                replies.append(await asyncio.wait_for(client.replies.get(), 5))
            assert len({r[:2] for r in replies}) == 1  # one client, one endpoint
            seen.append(replies[0][:2])
        assert sorted(seen) == [b"a:", b"b:"]  # two clients, round robin
        assert len(forwarder.sessions) == 2
    finally:
        for t in clients + backends:
            t.close()
        await forwarder.close()
