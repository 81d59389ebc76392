"""`pods/{name}/log`: the apiserver asks the pod's kubelet and streams its answer back.

The kubelet is found through its Node object: the InternalIP address and
`status.daemonEndpoints.kubeletEndpoint.Port`. Requests carry the cluster's kubelet token (a shared secret
given to the apiserver with --kubelet-token-file and to kubelets with the same flag), so only the apiserver
can read logs from a kubelet. The kubelet's contract: `GET /containerLogs/{namespace}/{pod}/{container}`
with the query parameters of the log subresource, answering text/plain (streamed when following).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import StreamingResponse

from kube import errors
from kube.resources import NODES, PODS

__all__ = ["LOG_PARAMS", "KubeletProxy"]

Obj = dict[str, Any]

#: query parameters of pods/log passed through to the kubelet (validated here first)
LOG_PARAMS = {"follow": "bool", "previous": "bool", "timestamps": "bool", "tailLines": "int",
              "sinceSeconds": "int", "limitBytes": "int", "sinceTime": "str", "insecureSkipTLSVerifyBackend": "bool"}


def _container_for(pod: Obj, requested: str | None) -> str:
    spec = pod["spec"]
    names = [c["name"] for c in spec.get("containers") or []]
    init = [c["name"] for c in spec.get("initContainers") or []]
    name = pod["metadata"]["name"]
    if requested:
        if requested not in names + init:
            raise errors.BadRequest(f"container {requested} is not valid for pod {name}")
        return requested
    if len(names) == 1:
        return names[0]
    raise errors.BadRequest(f"a container name must be specified for pod {name}, choose one of: "
                            f"[{' '.join(names)}]" + (f" or one of the init containers: [{' '.join(init)}]"
                                                      if init else ""))


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
    def __init__(self, token: str | None, timeout: float = 10.0) -> None:
        self.token = token
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout, read=None))

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
        return f"http://{host}:{port}"

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
