"""The kubelet's own HTTP endpoint, which the apiserver calls for `pods/{name}/log` and `pods/{name}/exec`,
as Kubernetes' apiserver calls a kubelet's port 10250.

    GET /containerLogs/{namespace}/{pod}/{container}
        ?follow&previous&timestamps&tailLines&sinceSeconds&sinceTime&limitBytes   -> text/plain, streamed
    GET /exec/{namespace}/{pod}/{container}?command=..&command=..&stdin&stdout&stderr&tty
    GET /attach/{namespace}/{pod}/{container}?stdin&stdout&stderr&tty
        WebSocket (v5.channel.k8s.io or v4.channel.k8s.io, see `kubelet.streaming`)
    GET /portForward/{namespace}/{pod}
        WebSocket (SPDY/3.1+portforward.k8s.io, or ?port=..&port=.. in the channel protocol
        v4.channel.k8s.io / v4.base64.channel.k8s.io / none; see `kubelet.portforward`)
    GET /healthz                                                                -> ok

Who may ask is `kubelet.auth`'s business (client certificates over HTTPS and SubjectAccessReviews, or the
shared --kubelet-token-file over HTTP). The Node publishes the address and port in
`status.daemonEndpoints.kubeletEndpoint.Port` and its InternalIP, where `apiserver.kubeletproxy` looks.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from kube import timeutil
from kubelet import portforward, streaming
from kubelet.auth import KubeletAuth, PeerTrackingProtocol
from kubelet.runtime import ContainerRuntime, RuntimeContainer, RuntimeFailure

__all__ = ["KubeletServer", "bind_socket", "pick_container"]

log = logging.getLogger("kubelet.server")

Obj = dict[str, Any]


class LogError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bind_socket(address: str, port: int) -> socket.socket:
    """A listening socket on address:port; when the port is taken (several kubelets on one host), any free
    port instead — the Node publishes whichever it got."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
    except OSError as exc:
        if port == 0 or exc.errno != errno.EADDRINUSE:
            sock.close()
            raise
        log.warning("port %d on %s is in use; serving on a free port instead", port, address)
        sock.bind((address, 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def pick_container(pod: Obj, name: str, instances: list[RuntimeContainer], previous: bool) -> RuntimeContainer:
    """The runtime container whose log is asked for; `instances` are that container's, newest first.

    `previous` is the last terminated instance: the one before a running container, or the newest one when
    it is itself terminated (a container in CrashLoopBackOff)."""
    pod_name = pod["metadata"]["name"]
    if previous:
        candidates = instances[1:] if instances and instances[0].running else instances
        found = next((c for c in candidates if c.exited), None)
        if found is None:
            raise LogError(400, f'previous terminated container "{name}" in pod "{pod_name}" not found')
        return found
    if not instances:
        status = pod.get("status") or {}
        statuses = [s for group in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses")
                    for s in status.get(group) or []]
        waiting = next((s.get("state", {}).get("waiting") for s in statuses if s.get("name") == name), None) or {}
        reason = waiting.get("reason") or "ContainerCreating"
        raise LogError(400, f'container "{name}" in pod "{pod_name}" is waiting to start: {reason}')
    return instances[0]


def _spec_of(pod: Obj, name: str) -> Obj | None:
    """The spec of the pod's container `name`: a regular, init or ephemeral one."""
    spec = pod["spec"]
    return next((c for group in ("initContainers", "containers", "ephemeralContainers")
                 for c in spec.get(group) or [] if c["name"] == name), None)


def _flag(request: Request, key: str) -> bool:
    return request.query_params.get(key, "").lower() in ("true", "1", "yes")


def _number(request: Request, key: str) -> int | None:
    value = request.query_params.get(key)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise LogError(400, f"{key} must be an integer, got {value!r}") from None


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the kubelet's main handles SIGTERM and SIGINT itself


class KubeletServer:
    def __init__(
        self,
        runtime: ContainerRuntime,
        find_pod: Callable[[str, str], Obj | None],
        node_name: str,
        *,
        address: str,
        port: int = 10250,
        token: str | None = None,
        auth: KubeletAuth | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.runtime = runtime
        self.find_pod = find_pod
        self.node_name = node_name
        self.address = address
        self.requested_port = port
        self.auth = auth or KubeletAuth(node_name, token=token)
        self.tls = tls
        self.port = 0
        self._socket: socket.socket | None = None
        self.app = Starlette(routes=[
            Route("/containerLogs/{namespace}/{pod}/{container}", self.container_logs),
            WebSocketRoute("/exec/{namespace}/{pod}/{container}", self.exec),
            WebSocketRoute("/attach/{namespace}/{pod}/{container}", self.attach),
            WebSocketRoute("/portForward/{namespace}/{pod}", self.port_forward),
            Route("/healthz", lambda _: PlainTextResponse("ok")),
        ])

    def bind(self) -> int:
        """Open the listening socket now, so the Node can publish the port before serving starts."""
        self._socket = bind_socket(self.address, self.requested_port)
        self.port = self._socket.getsockname()[1]
        return self.port

    async def serve(self) -> None:
        if self._socket is None:
            self.bind()
        tls = self.tls
        options: dict[str, Any] = {"ssl_context_factory": lambda *_: tls} if tls is not None else {}
        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="off", log_level="warning",
                                http=PeerTrackingProtocol, **options)
        how = "https, client certificates, " + ("webhook authorization" if self.auth.mode == "Webhook" else
                                                "any authenticated user") if tls else \
            "http, token required" if self.auth.token else "http, open"
        log.info("serving logs, exec, attach and port-forward on %s:%d (%s)", self.address, self.port, how)
        await _Server(config).serve(sockets=[self._socket])  # type: ignore[list-item]

    async def _refusal(self, connection: Request | WebSocket) -> tuple[int, str] | None:
        method = connection.scope.get("method", "GET")
        return await self.auth.refusal(connection.scope, method, connection.url.path,
                                       connection.headers.get("authorization", ""))

    async def container_logs(self, request: Request) -> Response:
        refused = await self._refusal(request)
        if refused is not None:
            return PlainTextResponse(refused[1], status_code=refused[0])
        try:
            return await self._container_logs(request)
        except LogError as exc:
            return PlainTextResponse(exc.message, status_code=exc.status)
        except RuntimeFailure as exc:
            return PlainTextResponse(str(exc), status_code=500)

    async def _instances(self, namespace: str, pod_name: str, name: str) -> tuple[Obj, list[RuntimeContainer]]:
        """The pod and the containers made for its container `name`, newest attempt first."""
        pod = self.find_pod(namespace, pod_name)
        if pod is None:
            raise LogError(404, f'pods "{pod_name}" not found')
        if _spec_of(pod, name) is None:
            raise LogError(400, f"container {name} is not valid for pod {pod_name}")
        instances = sorted(
            (c for c in await self.runtime.list_containers(self.node_name, pod["metadata"]["uid"])
             if not c.sandbox and c.name == name),
            key=lambda c: c.attempt, reverse=True)
        return pod, instances

    async def _container_logs(self, request: Request) -> Response:
        namespace, pod_name, name = (request.path_params[k] for k in ("namespace", "pod", "container"))
        pod, instances = await self._instances(namespace, pod_name, name)
        target = pick_container(pod, name, instances, _flag(request, "previous"))

        since: float | None = None
        if (seconds := _number(request, "sinceSeconds")) is not None:
            since = time.time() - seconds
        elif request.query_params.get("sinceTime"):
            try:
                since = timeutil.parse(request.query_params["sinceTime"]).timestamp()
            except ValueError:
                raise LogError(400, f"sinceTime is not an RFC 3339 time: {request.query_params['sinceTime']}") \
                    from None
        limit = _number(request, "limitBytes")
        chunks = self.runtime.logs(
            target.id, follow=_flag(request, "follow") and target.running, timestamps=_flag(request, "timestamps"),
            tail=_number(request, "tailLines"), since=since,
        )
        return StreamingResponse(_limited(chunks, limit), media_type="text/plain")


    # ------------------------------------------------------------------ exec

    async def _exec_target(self, namespace: str, pod_name: str, name: str) -> tuple[RuntimeContainer, Obj]:
        pod, instances = await self._instances(namespace, pod_name, name)
        if not instances or not instances[0].running:
            raise LogError(400, f'container {name} is not running in pod {pod_name}')
        spec = _spec_of(pod, name)
        assert spec is not None  # _instances checked the name
        return instances[0], spec

    async def exec(self, websocket: WebSocket) -> None:
        """`kubectl exec` (through the apiserver): a docker exec bridged to the channel protocol."""
        await self._stream(websocket, attach=False)

    async def attach(self, websocket: WebSocket) -> None:
        """`kubectl attach` / `kubectl run -it`: the container's own process bridged to the channel protocol."""
        await self._stream(websocket, attach=True)

    async def _stream(self, websocket: WebSocket, attach: bool) -> None:
        refused = await self._refusal(websocket)
        if refused is not None:
            await _deny(websocket, *refused)
            return
        protocol = streaming.pick_protocol(list(websocket.scope.get("subprotocols") or []))
        if protocol is None:
            await _deny(websocket, 400, "exec needs a WebSocket with subprotocol "
                                        f"{' or '.join(streaming.PROTOCOLS)}")
            return
        params = websocket.query_params
        command = params.getlist("command")
        flags = {k: params.get(k, "").lower() in ("true", "1") for k in ("stdin", "stdout", "stderr", "tty")}
        namespace, pod_name, name = (websocket.path_params[k] for k in ("namespace", "pod", "container"))
        try:
            if not command and not attach:
                raise LogError(400, "you must specify at least 1 command")
            target, spec = await self._exec_target(namespace, pod_name, name)
            if attach:  # the stream is a terminal's exactly when the container was made with one
                session = await self.runtime.attach(target.id, stdin=flags["stdin"] and bool(spec.get("stdin")),
                                                    tty=bool(spec.get("tty")))
            else:
                session = await self.runtime.exec_start(target.id, command, stdin=flags["stdin"], tty=flags["tty"])
        except LogError as exc:
            await _deny(websocket, exc.status, exc.message)
            return
        except RuntimeFailure as exc:
            await _deny(websocket, 500, str(exc))
            return
        await websocket.accept(subprotocol=protocol)

        async def receive() -> bytes | None:
            while True:
                message = await _next_message(websocket)
                if message is None:
                    return None
                if message.get("bytes") is not None:
                    return message["bytes"]
                if message.get("text") is not None:
                    return message["text"].encode()

        runtime = self.runtime

        async def exit_code() -> int | None:
            return 0 if attach else await runtime.exec_exit_code(session.exec_id)

        async def resize(height: int, width: int) -> None:
            if attach:
                await runtime.resize(target.id, height, width)
            else:
                await runtime.exec_resize(session.exec_id, height, width)

        try:
            await streaming.bridge(session, websocket.send_bytes, receive, resize, exit_code, protocol,
                                   flags["stdin"])
            await websocket.close(1000)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            log.debug("exec session in %s/%s/%s ended early: %s", namespace, pod_name, name, exc)
        finally:
            session.close()


    async def port_forward(self, websocket: WebSocket) -> None:
        """Port-forward in either protocol, picked by subprotocol as Kubernetes picks it: kubectl's SPDY
        streams in a WebSocket, or the channel protocol (one channel pair per `port` of the query) that the
        other clients speak."""
        refused = await self._refusal(websocket)
        if refused is not None:
            await _deny(websocket, *refused)
            return
        offered = list(websocket.scope.get("subprotocols") or [])
        protocol = portforward.pick_protocol(offered)
        if protocol is None:
            supported = [portforward.CHANNEL_PROTOCOL, portforward.BASE64_CHANNEL_PROTOCOL, portforward.PROTOCOL]
            await _deny(websocket, 400, f"requested protocol(s) are not supported: {offered}; supports {supported}")
            return
        spdy = protocol in (portforward.TOKEN_PROTOCOL, portforward.PROTOCOL)
        ports: list[int] = []
        if not spdy:
            try:
                params = websocket.query_params
                ports = portforward.parse_ports([*params.getlist("port"), *params.getlist("ports")])
            except ValueError as exc:
                await _deny(websocket, 400, str(exc))
                return
        namespace, pod_name = websocket.path_params["namespace"], websocket.path_params["pod"]
        pod = self.find_pod(namespace, pod_name)
        if pod is None:
            await _deny(websocket, 404, f'pods "{pod_name}" not found')
            return
        sandbox = next((c for c in await self.runtime.list_containers(self.node_name, pod["metadata"]["uid"])
                        if c.sandbox and c.running), None)
        if sandbox is None:
            await _deny(websocket, 400, f"pod {pod_name} is not running")
            return
        netns = None if pod["spec"].get("hostNetwork") else sandbox.pid or None
        await websocket.accept(subprotocol=protocol or None)
        try:
            if spdy:
                await self._port_forward_spdy(websocket, netns, f"{namespace}/{pod_name}")
            else:
                await self._port_forward_channels(websocket, ports, netns, f"{namespace}/{pod_name}",
                                                  text=protocol == portforward.BASE64_CHANNEL_PROTOCOL)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            log.debug("port-forward to %s/%s ended: %s", namespace, pod_name, exc)
        except Exception:
            log.exception("port-forward to %s/%s failed", namespace, pod_name)
        finally:
            with contextlib.suppress(Exception):
                await websocket.close(1000)

    @staticmethod
    async def _port_forward_spdy(websocket: WebSocket, netns: int | None, pod: str) -> None:
        forwarder = portforward.PortForwarder(websocket.send_bytes, netns, pod)
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("bytes")
                if data is None and message.get("text") is not None:
                    data = message["text"].encode()
                if data:
                    await forwarder.session.feed(data)
                if forwarder.session.gone.is_set():
                    break
        finally:
            await forwarder.close()

    @staticmethod
    async def _port_forward_channels(websocket: WebSocket, ports: list[int], netns: int | None, pod: str,
                                     text: bool) -> None:
        async def send(message: bytes | str) -> None:
            await (websocket.send_text(message) if isinstance(message, str) else websocket.send_bytes(message))

        async def receive() -> bytes | str | None:
            message = await _next_message(websocket)
            if message is None:
                return None
            return message["bytes"] if message.get("bytes") is not None else message.get("text") or b""

        await portforward.ChannelForwarder(send, ports, netns, pod, text=text).serve(receive)


async def _next_message(websocket: WebSocket) -> dict[str, Any] | None:
    """The client's next WebSocket message, or None once it has gone."""
    try:
        message = await websocket.receive()
    except (WebSocketDisconnect, RuntimeError):
        return None
    return None if message["type"] == "websocket.disconnect" else message


async def _deny(websocket: WebSocket, status: int, message: str) -> None:
    """Refuse a WebSocket before it opens, with an HTTP status the client (and kubectl) can show."""
    try:
        await websocket.send_denial_response(PlainTextResponse(message, status_code=status))
    except RuntimeError:  # the server cannot send a response instead of the handshake: close (403)
        await websocket.close(1008, message[:120])


async def _limited(chunks: AsyncIterator[bytes], limit: int | None) -> AsyncIterator[bytes]:
    """Pass the log through, stopping after `limit` bytes (limitBytes) when one is given."""
    sent = 0
    try:
        async for chunk in chunks:
            if limit is not None:
                chunk = chunk[: max(0, limit - sent)]
            if chunk:
                sent += len(chunk)
                yield chunk
            if limit is not None and sent >= limit:
                return
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
