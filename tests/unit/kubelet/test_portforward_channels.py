"""port-forward's WebSocket channel protocol (what the official Python client, kr8s and kubernetes-asyncio
speak): the subprotocol picked as Kubernetes picks it, the kubelet's port parameters and their messages, the
port-number frame that opens each channel before any data, bytes both ways on channel 2*i, a refused port
reported on 2*i+1, the base64 text variant, and the session's end when the pod or the client closes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets.asyncio.client
import websockets.exceptions

from kubelet.portforward import ChannelForwarder, parse_ports, pick_protocol
from kubelet.runtime import RuntimeContainer
from kubelet.server import KubeletServer


def test_the_clients_first_served_offer_wins_and_no_offer_means_binary_channels() -> None:
    assert pick_protocol(["v5.channel.k8s.io", "v4.channel.k8s.io"]) == "v4.channel.k8s.io"  # official client
    assert pick_protocol([]) == ""  # kr8s offers none
    assert pick_protocol(["v4.base64.channel.k8s.io"]) == "v4.base64.channel.k8s.io"
    assert pick_protocol(["SPDY/3.1+portforward.k8s.io"]) == "SPDY/3.1+portforward.k8s.io"
    assert pick_protocol(["v5.channel.k8s.io"]) is None


def test_ports_as_the_kubelet_reads_them() -> None:
    assert parse_ports(["8080", "9090,7070"]) == [8080, 9090, 7070]
    for values, message in (([], 'query parameter "port" is required'),
                            ([""], 'query parameter "port" cannot be empty'),
                            (["0"], 'port "0" must be > 0'),
                            (["80,x"], 'unable to parse "80,x" as a port: strconv.ParseUint: parsing "x": invalid'),
                            (["70000"], 'parsing "70000": value out of range')):
        with pytest.raises(ValueError, match=message):
            parse_ports(values)


async def http_server(reply: bytes) -> tuple[asyncio.Server, int, list[bytes]]:
    """A pod's server: reads one request (up to its blank line), answers and closes, as busybox httpd does."""
    got: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(reply)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], got


def refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """The client end: frames it sends are queued for the forwarder, frames it receives are kept."""

    def __init__(self) -> None:
        self.outgoing: asyncio.Queue[bytes | str | None] = asyncio.Queue()
        self.received: list[bytes | str] = []

    async def send(self, message: bytes | str) -> None:
        self.received.append(message)

    async def receive(self) -> bytes | str | None:
        return await self.outgoing.get()


async def test_each_port_opens_with_its_number_then_carries_bytes_and_errors() -> None:
    server, port, got = await http_server(b"HTTP/1.0 200 OK\r\n\r\nhello")
    bad = refused_port()
    client = Client()
    forwarder = ChannelForwarder(client.send, [port, bad], None, "ns/pod")
    client.outgoing.put_nowait(b"\x00GET / HTTP/1.0\r\n")
    client.outgoing.put_nowait(b"\x02dropped: that port's connection failed")
    client.outgoing.put_nowait(b"\x05dropped: no such channel")
    client.outgoing.put_nowait(b"\x00\r\n")
    await asyncio.wait_for(forwarder.serve(client.receive), 10)  # both ports done: the session ends by itself
    head = [bytes((c,)) + struct.pack("<H", p) for c, p in ((0, port), (1, port), (2, bad), (3, bad))]
    assert client.received[:4] == head  # every channel opened before any data
    rest = [m for m in client.received[4:] if isinstance(m, bytes)]
    assert b"".join(m[1:] for m in rest if m[0] == 0) == b"HTTP/1.0 200 OK\r\n\r\nhello"
    errors = [m[1:].decode() for m in rest if m[0] == 3]
    assert len(errors) == 1 and errors[0].startswith(f"error forwarding port {bad} to pod ns/pod: ")
    assert not [m for m in rest if m[0] in (1, 2)]  # no empty error frame: clients take any as an error
    assert got == [b"GET / HTTP/1.0\r\n\r\n"]
    server.close()


async def test_the_base64_variant_speaks_text_frames() -> None:
    server, port, got = await http_server(b"ok")
    client = Client()
    forwarder = ChannelForwarder(client.send, [port], None, "ns/pod", text=True)
    client.outgoing.put_nowait("0" + base64.b64encode(b"GET / HTTP/1.0\r\n\r\n").decode())
    await asyncio.wait_for(forwarder.serve(client.receive), 10)
    assert client.received[:2] == ["0" + base64.b64encode(struct.pack("<H", port)).decode(),
                                   "1" + base64.b64encode(struct.pack("<H", port)).decode()]
    assert [base64.b64decode(m[1:]) for m in client.received[2:] if isinstance(m, str)] == [b"ok"]
    assert got == [b"GET / HTTP/1.0\r\n\r\n"]
    server.close()


async def test_the_client_leaving_ends_the_session_and_the_pod_connection() -> None:
    closed = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the forwarder closes its end
        closed.set()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    client = Client()
    forwarder = ChannelForwarder(client.send, [server.sockets[0].getsockname()[1]], None, "ns/pod")
    session = asyncio.create_task(forwarder.serve(client.receive))
    await asyncio.sleep(0.2)
    assert not session.done()  # the pod keeps its connection open: so does the session
    client.outgoing.put_nowait(None)
    await asyncio.wait_for(session, 5)
    await asyncio.wait_for(closed.wait(), 5)
    server.close()


# ------------------------------------------------------------------ the kubelet's route


class FakeRuntime:
    async def list_containers(self, node: str, uid: str) -> list[RuntimeContainer]:
        return [RuntimeContainer(id="s", name="sandbox", pod_uid=uid, pod_namespace="ns", pod_name="web",
                                 attempt=0, sandbox=True, state="running", pid=1)]


@pytest.fixture
async def kubelet() -> AsyncIterator[str]:
    """The kubelet's endpoint on a free port, serving one hostNetwork pod (so no namespace to enter)."""
    pod: dict[str, Any] = {"metadata": {"name": "web", "uid": "u1"}, "spec": {"hostNetwork": True}}
    server = KubeletServer(FakeRuntime(), lambda ns, name: pod if name == "web" else None,  # type: ignore[arg-type]
                           "n1", address="127.0.0.1", port=0, token="t")
    port = server.bind()
    task = asyncio.create_task(server.serve())
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


AUTH = {"Authorization": "Bearer t"}


async def connect(url: str, offered: list[str]) -> websockets.asyncio.client.ClientConnection:
    return await websockets.asyncio.client.connect(url, subprotocols=offered or None,  # type: ignore[arg-type]
                                                   additional_headers=AUTH, proxy=None, open_timeout=5)


@pytest.mark.parametrize(("offered", "answered"), [([], None), (["v5.channel.k8s.io", "v4.channel.k8s.io"],
                                                               "v4.channel.k8s.io")])
async def test_the_kubelet_answers_the_channel_protocol(kubelet: str, offered: list[str],
                                                        answered: str | None) -> None:
    server, port, got = await http_server(b"HTTP/1.0 200 OK\r\n\r\nfile\n")
    ws = await connect(f"{kubelet}/portForward/ns/web?port={port}", offered)
    assert ws.subprotocol == answered
    assert [await ws.recv(), await ws.recv()] == [b"\x00" + struct.pack("<H", port),
                                                 b"\x01" + struct.pack("<H", port)]
    await ws.send(b"\x00GET /f HTTP/1.0\r\n\r\n")
    body = b"".join([m[1:] async for m in ws if isinstance(m, bytes) and m[0] == 0])  # until the kubelet closes
    assert body == b"HTTP/1.0 200 OK\r\n\r\nfile\n" and got == [b"GET /f HTTP/1.0\r\n\r\n"]
    server.close()


@pytest.mark.parametrize(("path", "offered", "message"), [
    ("/portForward/ns/web", [], 'query parameter "port" is required'),
    ("/portForward/ns/web?port=abc", [], 'unable to parse "abc" as a port'),
    ("/portForward/ns/web?port=80", ["v5.channel.k8s.io"], "requested protocol(s) are not supported"),
    ("/portForward/ns/gone?port=80", [], 'pods "gone" not found'),
])
async def test_the_kubelet_refuses_what_it_cannot_serve(kubelet: str, path: str, offered: list[str],
                                                        message: str) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus) as denied:
        await connect(f"{kubelet}{path}", offered)
    response = denied.value.response
    assert response.status_code in (400, 404) and message in response.body.decode()
