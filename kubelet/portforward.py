"""`kubectl port-forward`: SPDY/3.1 streams tunnelled through a WebSocket (subprotocol
`SPDY/3.1+portforward.k8s.io`), each forwarded connection a pair of streams to a port inside the pod.

kubectl opens, per local connection, an `error` stream and a `data` stream carrying the headers
`streamtype`, `port` and `requestid`; the server answers every SYN_STREAM with a SYN_REPLY, connects to
the port on the pod's localhost (inside its network namespace), copies bytes both ways on the data stream,
and finishes by closing the data stream and then the error stream (with a message if something failed):
kubectl waits for that close.

Only the server side of SPDY that this needs is here: frames parsed from a byte stream, header blocks
zlib-compressed with the SPDY/3 dictionary (one compression context per direction for the session), no
flow control (kubectl's SPDY library has none either).

The other clients (the official Python client, kubernetes-asyncio, kr8s) speak Kubernetes' WebSocket channel
protocol instead (`ChannelForwarder`): the ports are named in the request, each gets one connection for the
life of the WebSocket, and its bytes travel on channel 2*i (errors on 2*i+1).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import ctypes
import logging
import os
import re
import socket
import struct
import threading
import zlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

__all__ = ["BASE64_CHANNEL_PROTOCOL", "CHANNEL_PROTOCOL", "PROTOCOL", "SPDY_DICTIONARY", "TOKEN_PROTOCOL",
           "ChannelForwarder", "PortForwarder", "SpdySession", "connect_in_netns", "decode_headers", "encode_headers",
           "parse_ports", "pick_protocol"]

log = logging.getLogger("kubelet.portforward")

PROTOCOL = "SPDY/3.1+portforward.k8s.io"
#: how the apiserver asks for it: "/" and "+" are not allowed in a WebSocket subprotocol token, and the
#: `websockets` library refuses such a header
TOKEN_PROTOCOL = "portforward.k8s.io"
#: Kubernetes' WebSocket channel protocol for port-forward: binary frames led by the channel byte (a WebSocket
#: offering no subprotocol gets it too, as from a Kubernetes kubelet), and its text variant (base64 payloads
#: led by the channel as an ASCII digit) for clients that cannot send binary frames
CHANNEL_PROTOCOL = "v4.channel.k8s.io"
BASE64_CHANNEL_PROTOCOL = "v4.base64.channel.k8s.io"


def pick_protocol(offered: Iterable[str]) -> str | None:
    """The subprotocol to answer, as Kubernetes' handshake picks it: the client's first that is served; ""
    (binary channels) when it offers none; None when none of its offers is served."""
    offered = list(offered)
    if not offered:
        return ""
    served = (CHANNEL_PROTOCOL, BASE64_CHANNEL_PROTOCOL, TOKEN_PROTOCOL, PROTOCOL)
    return next((p for p in offered if p in served), None)


def parse_ports(values: Iterable[str]) -> list[int]:
    """The ports of a channel-protocol request (`port=8080&port=9090`, each possibly comma-separated), with
    the messages of Kubernetes' kubelet: clients show them."""
    ports: list[int] = []
    for value in values:
        if not value:
            raise ValueError('query parameter "port" cannot be empty')
        for part in value.split(","):
            if not re.fullmatch(r"[0-9]+", part):
                raise ValueError(f'unable to parse "{value}" as a port: strconv.ParseUint: parsing "{part}": '
                                 "invalid syntax")
            if int(part) > 65535:
                raise ValueError(f'unable to parse "{value}" as a port: strconv.ParseUint: parsing "{part}": '
                                 "value out of range")
            if int(part) < 1:
                raise ValueError(f'port "{value}" must be > 0')
            ports.append(int(part))
    if not ports:
        raise ValueError('query parameter "port" is required')
    return ports

_SYN_STREAM, _SYN_REPLY, _RST_STREAM, _SETTINGS, _PING, _GOAWAY, _HEADERS, _WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
_FLAG_FIN = 0x01
_VERSION = 3


def _dictionary() -> bytes:
    """The SPDY/3 header compression dictionary (draft-mbelshe-httpbis-spdy-00, 2.6.10.1): length-prefixed
    common header words, then a run of common values."""
    names = ("options head post put delete trace accept accept-charset accept-encoding accept-language "
             "accept-ranges age allow authorization cache-control connection content-base content-encoding "
             "content-language content-length content-location content-md5 content-range content-type date etag "
             "expect expires from host if-match if-modified-since if-none-match if-range if-unmodified-since "
             "last-modified location max-forwards pragma proxy-authenticate proxy-authorization range referer "
             "retry-after server te trailer transfer-encoding upgrade user-agent vary via warning www-authenticate "
             "method get status")
    words = [*names.split(" "), "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive",
             "origin"]
    tail = (
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
        "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
        "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
        "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
        "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
        "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
    )
    return b"".join(struct.pack(">I", len(w)) + w.encode() for w in words) + tail.encode()


SPDY_DICTIONARY = _dictionary()


def encode_headers(headers: dict[str, str]) -> bytes:
    """A SPDY/3 name/value block (before compression): lowercase names, 32-bit lengths."""
    out = [struct.pack(">I", len(headers))]
    for name, value in headers.items():
        key, val = name.lower().encode(), value.encode()
        out += [struct.pack(">I", len(key)), key, struct.pack(">I", len(val)), val]
    return b"".join(out)


def decode_headers(block: bytes) -> dict[str, str]:
    """A decompressed name/value block; multiple values (NUL-separated) keep the first."""
    (count,), offset = struct.unpack_from(">I", block), 4
    headers: dict[str, str] = {}
    for _ in range(count):
        (size,) = struct.unpack_from(">I", block, offset)
        name = block[offset + 4: offset + 4 + size].decode()
        offset += 4 + size
        (size,) = struct.unpack_from(">I", block, offset)
        value = block[offset + 4: offset + 4 + size].decode(errors="replace")
        offset += 4 + size
        headers[name] = value.split("\x00", 1)[0]
    return headers


@dataclass
class SpdyStream:
    id: int
    headers: dict[str, str]
    data: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)  # None: the peer finished
    closed: bool = False  # we sent FIN


class SpdySession:
    """The server end of one SPDY/3 session over any byte transport (`feed` what arrives, `send` writes)."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]], on_stream: Callable[[SpdyStream], None]) -> None:
        self._send = send
        self.on_stream = on_stream
        self.streams: dict[int, SpdyStream] = {}
        self._buffer = bytearray()
        self._inflate = zlib.decompressobj(zdict=SPDY_DICTIONARY)
        self._deflate = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY,
                                         SPDY_DICTIONARY)
        self._lock = asyncio.Lock()
        self.gone = asyncio.Event()

    async def feed(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 8:
            (length,) = struct.unpack(">I", b"\x00" + bytes(self._buffer[5:8]))
            if len(self._buffer) < 8 + length:
                return
            head, payload = bytes(self._buffer[:8]), bytes(self._buffer[8:8 + length])
            del self._buffer[:8 + length]
            flags = head[4]
            if head[0] & 0x80:
                (frame_type,) = struct.unpack(">H", head[2:4])
                await self._control(frame_type, flags, payload)
            else:
                (stream_id,) = struct.unpack(">I", head[:4])
                stream = self.streams.get(stream_id & 0x7FFFFFFF)
                if stream is not None:
                    if payload:
                        stream.data.put_nowait(payload)
                    if flags & _FLAG_FIN:
                        stream.data.put_nowait(None)

    async def _control(self, frame_type: int, flags: int, payload: bytes) -> None:
        if frame_type == _SYN_STREAM:
            (stream_id,) = struct.unpack(">I", payload[:4])
            stream_id &= 0x7FFFFFFF
            headers = decode_headers(self._inflate.decompress(payload[10:]))
            stream = SpdyStream(stream_id, headers)
            self.streams[stream_id] = stream
            if flags & _FLAG_FIN:
                stream.data.put_nowait(None)
            await self._write_control(_SYN_REPLY, 0, struct.pack(">I", stream_id) + self._compress({}))
            self.on_stream(stream)
        elif frame_type == _RST_STREAM:
            (stream_id,) = struct.unpack(">I", payload[:4])
            stream = self.streams.pop(stream_id & 0x7FFFFFFF, None)
            if stream is not None:
                stream.closed = True
                stream.data.put_nowait(None)
        elif frame_type == _PING:
            await self._write_control(_PING, 0, payload[:4])
        elif frame_type == _GOAWAY:
            self.close()
        elif frame_type == _HEADERS:
            self._inflate.decompress(payload[4:])  # keep the decompression context in step
        # SETTINGS and WINDOW_UPDATE need no answer: no flow control here (nor in kubectl's SPDY library)

    def _compress(self, headers: dict[str, str]) -> bytes:
        return self._deflate.compress(encode_headers(headers)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    async def _write_control(self, frame_type: int, flags: int, payload: bytes) -> None:
        head = struct.pack(">HHI", 0x8000 | _VERSION, frame_type, (flags << 24) | len(payload))
        async with self._lock:
            await self._send(head + payload)

    async def write(self, stream: SpdyStream, data: bytes, fin: bool = False) -> None:
        """DATA on a stream (in frames of at most 32 KiB); `fin` closes our side of it."""
        if stream.closed:
            return
        chunks = [data[i:i + 32768] for i in range(0, len(data), 32768)] or [b""]
        for i, chunk in enumerate(chunks):
            last = fin and i == len(chunks) - 1
            head = struct.pack(">II", stream.id, ((_FLAG_FIN if last else 0) << 24) | len(chunk))
            async with self._lock:
                await self._send(head + chunk)
        if fin:
            stream.closed = True

    def close(self) -> None:
        self.gone.set()
        for stream in self.streams.values():
            stream.data.put_nowait(None)


# ---------------------------------------------------------------------------------------------- sockets

_CLONE_NEWNET = 0x40000000


def connect_in_netns(netns_pid: int | None, host: str, port: int, timeout: float = 10.0) -> socket.socket:
    """A TCP connection to host:port made from inside the network namespace of process `netns_pid` (the
    pod's sandbox), so a server listening on the pod's localhost is reachable, as on Kubernetes. The socket
    is made in a thread of its own that enters the namespace and then ends: the namespace of a socket is
    fixed at its creation. Without a pid (hostNetwork) the connection is made from here."""
    if netns_pid is None:
        return socket.create_connection((host, port), timeout=timeout)
    result: dict[str, object] = {}

    def enter_and_connect() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/proc/{netns_pid}/ns/net", os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns: {os.strerror(ctypes.get_errno())}")
            finally:
                os.close(fd)
            result["socket"] = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            result["error"] = exc

    thread = threading.Thread(target=enter_and_connect, name="portforward-netns", daemon=True)
    thread.start()
    thread.join(timeout + 1)
    if "socket" in result:
        return result["socket"]  # type: ignore[return-value]
    error = result.get("error")
    raise error if isinstance(error, OSError) else OSError(f"connecting to {host}:{port} timed out")


# ---------------------------------------------------------------------------------------------- forwarding


class PortForwarder:
    """Pairs each request's error and data streams and forwards the data stream to the pod's port."""

    def __init__(self, session_send: Callable[[bytes], Awaitable[None]], netns_pid: int | None, pod: str) -> None:
        self.session = SpdySession(session_send, self._on_stream)
        self.netns_pid = netns_pid
        self.pod = pod
        self._pending: dict[str, dict[str, SpdyStream]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _on_stream(self, stream: SpdyStream) -> None:
        request = stream.headers.get("requestid", "")
        kind = stream.headers.get("streamtype", "")
        pair = self._pending.setdefault(request, {})
        pair[kind] = stream
        if "error" in pair and "data" in pair:
            del self._pending[request]
            task = asyncio.get_running_loop().create_task(self._forward(pair["data"], pair["error"]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _forward(self, data: SpdyStream, error: SpdyStream) -> None:
        port_text = data.headers.get("port", "")
        try:
            port = int(port_text)
            sock = await asyncio.to_thread(connect_in_netns, self.netns_pid, "127.0.0.1", port)
        except (ValueError, OSError) as exc:
            message = f"error forwarding port {port_text} to pod {self.pod}: {exc}"
            log.info("%s", message)
            await self.session.write(data, b"", fin=True)
            await self.session.write(error, message.encode(), fin=True)
            return
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock)

        async def upstream() -> None:  # client -> pod
            while (chunk := await data.data.get()) is not None:
                writer.write(chunk)
                await writer.drain()
            with contextlib.suppress(OSError):
                writer.write_eof()

        pump = asyncio.create_task(upstream())
        try:
            while chunk := await reader.read(32768):
                await self.session.write(data, chunk)
        except ConnectionError:
            pass
        finally:
            await self.session.write(data, b"", fin=True)
            await self.session.write(error, b"", fin=True)
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump
            writer.close()

    async def close(self) -> None:
        self.session.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class ChannelForwarder:
    """Port-forward in Kubernetes' WebSocket channel protocol: port i of the request is one connection to the
    pod, its bytes on channel 2*i both ways and its error message on 2*i+1 (from the server only). Each channel
    opens with a frame holding the port number (2 bytes, little-endian): clients check it before any data.
    A port whose connection ends is done; the WebSocket ends when every port is (there is no way to reopen
    one), or when the client leaves."""

    def __init__(self, send: Callable[[bytes | str], Awaitable[None]], ports: list[int], netns_pid: int | None,
                 pod: str, *, text: bool = False) -> None:
        self._send = send
        self.ports = ports
        self.netns_pid = netns_pid
        self.pod = pod
        self.text = text  # the base64 variant
        # bounded, so a client faster than the pod waits (as Kubernetes' pipes make it) instead of filling memory
        self._inbound: list[asyncio.Queue[bytes]] = [asyncio.Queue(64) for _ in ports]
        self._finished = [False] * len(ports)
        self._lock = asyncio.Lock()

    async def write(self, channel: int, data: bytes) -> None:
        """One frame on `channel` (frames from several ports never interleave mid-frame)."""
        message: bytes | str = (chr(ord("0") + channel) + base64.b64encode(data).decode() if self.text
                                else bytes((channel,)) + data)
        async with self._lock:
            await self._send(message)

    async def feed(self, message: bytes | str) -> None:
        """A frame from the client: data for a port's connection; frames on error channels, unknown channels
        or for finished ports are dropped, as Kubernetes drops them."""
        raw = message.encode() if isinstance(message, str) else message
        if not raw:
            return
        channel, payload = raw[0] - (ord("0") if self.text else 0), raw[1:]
        if self.text:
            try:
                payload = base64.b64decode(payload, validate=True)
            except binascii.Error:
                log.debug("port-forward to %s: a frame on channel %d is not base64", self.pod, channel)
                return
        index = channel // 2
        if channel % 2 or not 0 <= index < len(self.ports) or self._finished[index] or not payload:
            return
        await self._inbound[index].put(payload)

    async def serve(self, receive: Callable[[], Awaitable[bytes | str | None]]) -> None:
        """Open every channel, forward each port until its connection ends, and return when all have ended
        or `receive` says the client left (None)."""
        for i, port in enumerate(self.ports):
            prefix = struct.pack("<H", port)
            await self.write(2 * i, prefix)
            await self.write(2 * i + 1, prefix)

        async def reading() -> None:
            while (message := await receive()) is not None:
                await self.feed(message)

        forwards = [asyncio.create_task(self._forward(i)) for i in range(len(self.ports))]
        reader = asyncio.create_task(reading())
        everything = asyncio.gather(*forwards, return_exceptions=True)
        try:
            await asyncio.wait([reader, everything], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in [reader, *forwards]:
                task.cancel()
            await asyncio.gather(reader, everything, return_exceptions=True)

    async def _forward(self, i: int) -> None:
        port = self.ports[i]
        try:
            sock = await asyncio.to_thread(connect_in_netns, self.netns_pid, "127.0.0.1", port)
            sock.setblocking(False)
            reader, writer = await asyncio.open_connection(sock=sock)
        except OSError as exc:
            await self._fail(i, exc)
            return

        async def upstream() -> None:  # client -> pod
            while True:
                writer.write(await self._inbound[i].get())
                await writer.drain()

        async def downstream() -> None:  # pod -> client
            while chunk := await reader.read(32768):
                await self.write(2 * i, chunk)

        # Either direction ending ends the port, as in Kubernetes' runtimes (the client cannot half-close).
        tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            error = next((t.exception() for t in done if t.exception() is not None), None)
            if isinstance(error, OSError):
                await self._fail(i, error)
            elif error is not None:
                raise error  # the client went away mid-write: serve() ends the session
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            writer.close()
            self._finish(i)

    async def _fail(self, i: int, exc: OSError) -> None:
        message = f"error forwarding port {self.ports[i]} to pod {self.pod}: {exc}"
        log.info("%s", message)
        self._finish(i)
        await self.write(2 * i + 1, message.encode())

    def _finish(self, i: int) -> None:
        """No more client data for port i: drop what waits, which also frees a feed() blocked on it."""
        self._finished[i] = True
        queue = self._inbound[i]
        while not queue.empty():
            queue.get_nowait()
