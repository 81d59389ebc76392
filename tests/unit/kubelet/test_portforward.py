"""port-forward's SPDY side against a scripted client: the SPDY/3 dictionary, header blocks, SYN_REPLY for
every stream, an error/data stream pair forwarded to a local TCP server, the close order kubectl waits
for, and a refused port reported on the error stream."""

from __future__ import annotations

import asyncio
import struct
import zlib

from kubelet.portforward import SPDY_DICTIONARY, PortForwarder, decode_headers, encode_headers


def test_dictionary_is_the_spdy3_one() -> None:
    assert len(SPDY_DICTIONARY) == 1423 and zlib.adler32(SPDY_DICTIONARY) == 0xE3C6A7C2
    assert decode_headers(encode_headers({"StreamType": "data", "port": "80"})) == {"streamtype": "data",
                                                                                  "port": "80"}


class Client:
    """The kubectl end: SYN_STREAMs with compressed headers, DATA frames; parses what the server sends."""

    def __init__(self) -> None:
        self.deflate = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, SPDY_DICTIONARY)
        self.inflate = zlib.decompressobj(zdict=SPDY_DICTIONARY)
        self.received = bytearray()
        self.parsed: list[tuple[str, int, int, bytes]] = []

    def syn_stream(self, stream_id: int, headers: dict[str, str], fin: bool = False) -> bytes:
        block = self.deflate.compress(encode_headers(headers)) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        payload = struct.pack(">IIBB", stream_id, 0, 0, 0) + block
        return struct.pack(">HHI", 0x8003, 1, ((1 if fin else 0) << 24) | len(payload)) + payload

    @staticmethod
    def data(stream_id: int, data: bytes, fin: bool = False) -> bytes:
        return struct.pack(">II", stream_id, ((1 if fin else 0) << 24) | len(data)) + data

    async def send(self, data: bytes) -> None:
        self.received += data

    def frames(self) -> list[tuple[str, int, int, bytes]]:
        """(kind, stream id, flags, payload) of everything received so far (header blocks share one
        decompression context, so each frame is parsed once)."""
        out = self.parsed
        while len(self.received) >= 8 and len(self.received) >= 8 + int.from_bytes(self.received[5:8], "big"):
            length = int.from_bytes(self.received[5:8], "big")
            head, payload = bytes(self.received[:8]), bytes(self.received[8:8 + length])
            del self.received[:8 + length]
            if head[0] & 0x80:
                kind = {2: "reply", 6: "ping"}.get(int.from_bytes(head[2:4], "big"), "other")
                sid = int.from_bytes(payload[:4], "big") if kind == "reply" else 0
                if kind == "reply":
                    assert decode_headers(self.inflate.decompress(payload[4:])) == {}
                out.append((kind, sid, head[4], payload))
            else:
                out.append(("data", int.from_bytes(head[:4], "big"), head[4], payload))
        return out


async def serve_once(reply: bytes) -> tuple[asyncio.Server, int, list[bytes]]:
    got: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await reader.read())  # until the forwarded side half-closes
        writer.write(reply)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], got


async def test_a_connection_is_forwarded_and_closed_in_order() -> None:
    server, port, got = await serve_once(b"pong")
    client = Client()
    forwarder = PortForwarder(client.send, None, "ns/pod")
    headers = {"port": str(port), "requestid": "0"}
    await forwarder.session.feed(client.syn_stream(1, {**headers, "streamtype": "error"}, fin=True))
    # A frame may arrive cut anywhere: feed the data stream's SYN in two pieces.
    syn = client.syn_stream(3, {**headers, "streamtype": "data"})
    await forwarder.session.feed(syn[:5])
    await forwarder.session.feed(syn[5:] + client.data(3, b"ping") + client.data(3, b"", fin=True))
    await forwarder.session.feed(struct.pack(">HHII", 0x8003, 6, 4, 7))  # PING 7 is echoed

    async def finished() -> None:
        while not any(kind == "data" and sid == 1 and flags & 1 for kind, sid, flags, _ in client.frames()):
            await asyncio.sleep(0.01)

    await asyncio.wait_for(finished(), 5)
    frames = client.frames()
    assert [(k, s) for k, s, _, _ in frames if k == "reply"] == [("reply", 1), ("reply", 3)]
    assert ("ping", 0, 0, struct.pack(">I", 7)) in frames
    data = b"".join(p for k, s, _, p in frames if k == "data" and s == 3)
    assert data == b"pong" and got == [b"ping"]
    closes = [s for k, s, f, _ in frames if k == "data" and f & 1]
    assert closes == [3, 1]  # the data stream first, then the (empty) error stream
    await forwarder.close()
    server.close()


async def test_a_refused_port_is_reported_on_the_error_stream() -> None:
    server, port, _ = await serve_once(b"")
    server.close()
    await server.wait_closed()
    client = Client()
    forwarder = PortForwarder(client.send, None, "ns/pod")
    for sid, kind in ((1, "error"), (3, "data")):
        await forwarder.session.feed(client.syn_stream(sid, {"port": str(port), "requestid": "5",
                                                             "streamtype": kind}))

    async def reported() -> bytes:
        while True:
            message = b"".join(p for k, s, _, p in client.frames() if k == "data" and s == 1)
            if message:
                return message
            await asyncio.sleep(0.01)

    message = await asyncio.wait_for(reported(), 5)
    assert message.startswith(f"error forwarding port {port} to pod ns/pod: ".encode())
    await forwarder.close()
