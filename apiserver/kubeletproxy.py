"""`pods/{name}/log`, `exec`, `attach` and `portforward`: the apiserver asks the pod's kubelet and streams its
answer back.

The kubelet is found through its Node object: the InternalIP address and
`status.daemonEndpoints.kubeletEndpoint.Port`. As kube-apiserver does, the apiserver calls kubelets over HTTPS
with its --kubelet-client-certificate (the kubelet asks the apiserver whether that user may use nodes/proxy),
verifying the kubelet's serving certificate only against --kubelet-certificate-authority when given; without a
client certificate it speaks HTTP and shows the shared --kubelet-token-file instead.

The kubelet's contract: `GET /containerLogs/{namespace}/{pod}/{container}` with the query parameters of the
log subresource, answering text/plain (streamed when following); `/exec/{namespace}/{pod}/{container}?command=`
(and `/attach/...`) as a WebSocket in the channel protocol (`v5.channel.k8s.io`); and
`/portForward/{namespace}/{pod}` (SPDY tunnelled in a WebSocket, `SPDY/3.1+portforward.k8s.io`, or the channel
protocol with `?port=..` as Kubernetes' apiserver asks its kubelets), whose frames are relayed both ways
unchanged. A request without a WebSocket upgrade (kubectl's SPDY fallback) is answered with the same
validation errors, then a 400.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import websockets.asyncio.client
import websockets.exceptions
import websockets.headers
import websockets.server
from fastapi import Request, WebSocket
from fastapi.responses import Response, StreamingResponse
from starlette.websockets import WebSocketDisconnect

from kube import errors
from kube.resources import NODES, PODS

__all__ = ["EXEC_PROTOCOLS", "LOG_PARAMS", "PORTFORWARD_CHANNEL_PROTOCOLS", "PORTFORWARD_PROTOCOL", "KubeletProxy"]

log = logging.getLogger("apiserver.kubeletproxy")

#: WebSocket subprotocols of exec the kubelet speaks (kubectl 1.30+ offers v5 first)
EXEC_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
#: kubectl port-forward's WebSocket subprotocol: SPDY frames tunnelled in binary messages
PORTFORWARD_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
#: the same, as the kubelet is asked for it ("/" and "+" are not allowed in a subprotocol token)
KUBELET_PORTFORWARD_PROTOCOL = "portforward.k8s.io"
#: port-forward in the WebSocket channel protocol (the official Python client, kr8s, kubernetes-asyncio), as a
#: client may offer it -> as the kubelet is asked for it. `portforward.k8s.io` from a client means the binary
#: channels (the kubelet takes that token for SPDY), and a WebSocket offering no subprotocol gets them too.
PORTFORWARD_CHANNEL_PROTOCOLS = {"v4.channel.k8s.io": "v4.channel.k8s.io",
                                 "v4.base64.channel.k8s.io": "v4.base64.channel.k8s.io",
                                 "portforward.k8s.io": "v4.channel.k8s.io"}


def _lenient_parse_subprotocol(header: str) -> list[Any]:
    """Sec-WebSocket-Protocol values as listed, even when not RFC 6455 tokens: kubectl offers
    `SPDY/3.1+portforward.k8s.io`, which the `websockets` library (under uvicorn) would refuse with a 400
    before the request reaches us."""
    try:
        return list(_strict_parse_subprotocol(header))
    except websockets.exceptions.InvalidHeader:
        return [part.strip() for part in header.split(",") if part.strip()]


_strict_parse_subprotocol = websockets.headers.parse_subprotocol
websockets.server.parse_subprotocol = _lenient_parse_subprotocol  # type: ignore[assignment]

Obj = dict[str, Any]

#: query parameters of pods/log passed through to the kubelet (validated here first)
LOG_PARAMS = {"follow": "bool", "previous": "bool", "timestamps": "bool", "tailLines": "int",
              "sinceSeconds": "int", "limitBytes": "int", "sinceTime": "str", "insecureSkipTLSVerifyBackend": "bool"}


def _container_for(pod: Obj, requested: str | None) -> str:
    spec = pod["spec"]
    names = [c["name"] for c in spec.get("containers") or []]
    init = [c["name"] for c in spec.get("initContainers") or []]
    ephemeral = [c["name"] for c in spec.get("ephemeralContainers") or []]
    name = pod["metadata"]["name"]
    if requested:
        if requested not in names + init + ephemeral:
            raise errors.BadRequest(f"container {requested} is not valid for pod {name}")
        return requested
    if len(names) == 1:
        return names[0]
    raise errors.BadRequest(f"a container name must be specified for pod {name}, choose one of: "
                            f"[{' '.join(names)}]" + (f" or one of the init containers: [{' '.join(init)}]"
                                                      if init else "")
                            + (f" or one of the ephemeral containers: [{' '.join(ephemeral)}]" if ephemeral else ""))


def _query(request: Request) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, kind in LOG_PARAMS.items():
        value = request.query_params.get(key)
        if value is None:
            continue
        if kind == "int":
            try:
                if int(value) < 0 and key != "sinceSeconds":
                    raise ValueError
                if key == "sinceSeconds" and int(value) < 1:
                    raise ValueError
            except ValueError:
                raise errors.BadRequest(f"{key} must be a {'positive' if key == 'sinceSeconds' else 'non-negative'}"
                                        f" integer, got {value!r}") from None
        out[key] = value
    return out


class KubeletProxy:
    def __init__(self, token: str | None, tls: ssl.SSLContext | None = None, timeout: float = 10.0) -> None:
        self.token = token
        self.tls = tls
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout, read=None), verify=tls or True)

    async def close(self) -> None:
        await self._client.aclose()

    async def _kubelet_url(self, registry: Any, node_name: str) -> str:
        try:
            node = await registry.get(NODES, None, node_name)
        except errors.NotFound:
            raise errors.NotFound(f'nodes "{node_name}" not found', name=node_name, kind="nodes") from None
        status = node.get("status") or {}
        addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
        host = addresses.get("InternalIP") or addresses.get("Hostname")
        port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
        if not host or not port:
            raise errors.ServiceUnavailable(f"node {node_name} does not publish a kubelet endpoint")
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    async def logs(self, request: Request, registry: Any, namespace: str, name: str) -> StreamingResponse:
        pod = await registry.get(PODS, namespace, name)
        container = _container_for(pod, request.query_params.get("container"))
        query = _query(request)
        node = pod["spec"].get("nodeName")
        if not node:
            raise errors.BadRequest(f'container "{container}" in pod "{name}" is waiting to start: '
                                    "pod is not yet scheduled")
        base = await self._kubelet_url(registry, node)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        upstream = self._client.build_request("GET", f"{base}/containerLogs/{namespace}/{name}/{container}",
                                              params=query, headers=headers)
        try:
            response = await self._client.send(upstream, stream=True)
        except httpx.HTTPError as exc:
            raise errors.ServiceUnavailable(f"the kubelet of node {node} cannot be reached: {exc}") from exc
        if response.status_code >= 400:
            body = (await response.aread()).decode(errors="replace").strip()
            await response.aclose()
            raise errors.error_from_status(None, response.status_code, body or f"kubelet answered "
                                                                               f"{response.status_code}")

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.aiter_raw():
                    yield chunk
            except httpx.HTTPError:
                return  # the kubelet went away mid-stream: end the log, as kubectl expects
            finally:
                await response.aclose()

        return StreamingResponse(relay(), media_type="text/plain")

    # ------------------------------------------------------------------ exec

    async def _exec_target(self, registry: Any, namespace: str, name: str, params: Any,
                           kind: str = "exec") -> tuple[str, str]:
        """(kubelet WebSocket URL, container) of an exec or attach request, after the checks Kubernetes makes
        first."""
        pod = await registry.get(PODS, namespace, name)
        container = _container_for(pod, params.get("container"))
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            raise errors.BadRequest(f"cannot {kind} into a container in a completed pod; current phase is {phase}")
        commands = params.getlist("command")
        if not commands and kind == "exec":
            raise errors.BadRequest("you must specify at least 1 command")
        node = pod["spec"].get("nodeName")
        if not node:
            raise errors.BadRequest(f'pod {name} does not have a host assigned')
        base = await self._kubelet_url(registry, node)
        query = [("command", c) for c in commands]
        query += [(k, params[k]) for k in ("stdin", "stdout", "stderr", "tty") if params.get(k) is not None]
        return f"ws{base[4:]}/{kind}/{namespace}/{name}/{container}?{urlencode(query)}", container

    async def exec_without_upgrade(self, request: Request, registry: Any, namespace: str, name: str,
                                   kind: str = "exec") -> Response:
        """exec or attach over plain HTTP or SPDY (kubectl falls back to it when the WebSocket was refused):
        the same checks, so the user sees why, then 400: only WebSockets are served."""
        await self._exec_target(registry, namespace, name, request.query_params, kind)
        raise errors.BadRequest(f"{kind} needs a WebSocket upgrade (subprotocol v5.channel.k8s.io); SPDY is not "
                                "supported by this apiserver")

    async def exec(self, websocket: WebSocket, registry: Any, namespace: str, name: str, kind: str = "exec") -> None:
        """Relay a `kubectl exec` (or attach) WebSocket to the pod's kubelet, frame by frame, both ways."""
        offered = [p for p in websocket.scope.get("subprotocols") or [] if p in EXEC_PROTOCOLS]
        try:
            if not offered:
                raise errors.BadRequest(f"{kind} needs the WebSocket subprotocol {' or '.join(EXEC_PROTOCOLS)}")
            url, _ = await self._exec_target(registry, namespace, name, websocket.query_params, kind)
        except errors.ApiError as exc:
            await _deny(websocket, exc.code, exc.to_status())
            return
        await self._relay(websocket, url, offered)

    async def port_forward(self, websocket: WebSocket, registry: Any, namespace: str, name: str) -> None:
        """Relay a port-forward WebSocket to the pod's kubelet: kubectl's SPDY tunnel, or the channel protocol
        (picked as Kubernetes picks it: the client's first served offer) with the `ports` of the query passed
        on as the kubelet's `port` parameters; the kubelet checks them and answers."""
        offered = list(websocket.scope.get("subprotocols") or [])
        try:
            if PORTFORWARD_PROTOCOL in offered:
                answer, ask, query = PORTFORWARD_PROTOCOL, KUBELET_PORTFORWARD_PROTOCOL, ""
            else:
                picked = next((p for p in offered if p in PORTFORWARD_CHANNEL_PROTOCOLS), None)
                if offered and picked is None:
                    raise errors.BadRequest(f"requested protocol(s) are not supported: {offered}; supports "
                                            f"{[PORTFORWARD_PROTOCOL, *PORTFORWARD_CHANNEL_PROTOCOLS]}")
                answer = picked or ""  # "": no subprotocol in the answer, as none was offered
                ask = PORTFORWARD_CHANNEL_PROTOCOLS[picked or "v4.channel.k8s.io"]
                query = "?" + urlencode([("port", v) for v in websocket.query_params.getlist("ports")])
            pod = await registry.get(PODS, namespace, name)
            phase = (pod.get("status") or {}).get("phase")
            if phase != "Running":
                raise errors.BadRequest(f"pod {name} is not running (phase {phase})")
            base = await self._kubelet_url(registry, pod["spec"].get("nodeName") or "")
        except errors.ApiError as exc:
            await _deny(websocket, exc.code, exc.to_status())
            return
        await self._relay(websocket, f"ws{base[4:]}/portForward/{namespace}/{name}{query}", [ask], accept_as=answer)

    async def _relay(self, websocket: WebSocket, url: str, offered: list[str], accept_as: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            upstream = await websockets.asyncio.client.connect(
                url, subprotocols=offered, additional_headers=headers, max_size=None, proxy=None,  # type: ignore[arg-type]
                ssl=self.tls if url.startswith("wss:") else None,
                compression=None, open_timeout=10, ping_interval=None)
        except websockets.exceptions.InvalidStatus as exc:
            body = exc.response.body.decode(errors="replace").strip() if exc.response.body else ""
            code = exc.response.status_code
            await _deny(websocket, code, errors.error_from_status(None, code, body or f"kubelet answered {code}")
                        .to_status())
            return
        except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
            await _deny(websocket, 503, errors.ServiceUnavailable(
                f"the kubelet of the pod's node cannot be reached: {exc}").to_status())
            return
        # accept_as: the kubelet's answer when None; "" answers no subprotocol (the client offered none)
        await websocket.accept(subprotocol=upstream.subprotocol if accept_as is None else accept_as or None)

        # Text frames stay text (the base64 channel protocol is made of them), binary stay binary.
        async def to_kubelet() -> None:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                data = message["bytes"] if message.get("bytes") is not None else message.get("text")
                if data is not None:
                    await upstream.send(data)

        async def to_client() -> None:
            async for data in upstream:
                await (websocket.send_text(data) if isinstance(data, str) else websocket.send_bytes(data))

        tasks = [asyncio.create_task(to_kubelet()), asyncio.create_task(to_client())]
        try:
            # The session ends when the kubelet closes (the command ended) or the client leaves.
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await upstream.close()
            with contextlib.suppress(Exception, WebSocketDisconnect):
                await websocket.close(1000)


async def _deny(websocket: WebSocket, code: int, status: dict[str, Any]) -> None:
    """Refuse the WebSocket with an HTTP Status reply (kubectl shows its message)."""
    response = Response(json.dumps(status), status_code=code, media_type="application/json")
    try:
        await websocket.send_denial_response(response)
    except RuntimeError:
        await websocket.close(1008, str(status.get("message", ""))[:120])
