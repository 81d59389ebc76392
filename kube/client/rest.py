"""The asynchronous API client every daemon and the CLI use (httpx underneath).

Calls take a `ResourceType` (from `kube.resources`) and plain dicts; errors arrive as `kube.errors.ApiError`
subclasses built from the server's Status. `watch` yields `(type, object)` pairs from a chunked stream.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from kube import errors
from kube.client import kubeconfig
from kube.resources import ResourceType

__all__ = ["ApiClient", "tls_context"]

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


def tls_context(verify: bool | str, cert: tuple[str, str] | None = None) -> ssl.SSLContext:
    """A client context trusting `verify` (a CA file; True: the system's; False: anything) that presents `cert`
    (certificate, key). httpx ignores a `cert` given beside a CA path, so the context is built here."""
    context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    if verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert is not None:
        context.load_cert_chain(cert[0], cert[1])
    return context


class ApiClient:
    """One connection pool to one apiserver."""

    def __init__(
        self,
        server: str,
        *,
        token: str | None = None,
        verify: bool | str = True,
        cert: tuple[str, str] | None = None,
        timeout: float = 30.0,
        user_agent: str = "kubelite",
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
    ) -> None:
        headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.server = server.rstrip("/")
        self._verify = verify
        self._settings: dict[str, Any] = {
            "base_url": self.server, "headers": headers, "timeout": httpx.Timeout(timeout, connect=5.0),
            "transport": transport,
            "limits": httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        }
        self._http = httpx.AsyncClient(verify=tls_context(verify, cert), **self._settings)
        self._retired: list[httpx.AsyncClient] = []

    @classmethod
    def from_kubeconfig(
        cls, path: Path | str | None = None, context: str | None = None, **kwargs: Any
    ) -> tuple[ApiClient, str]:
        """A client for the kubeconfig's context, and that context's default namespace."""
        creds = kubeconfig.load(path, context)
        client = cls(creds.server, token=creds.token, verify=creds.verify, cert=creds.cert, **kwargs)
        return client, creds.namespace

    async def close(self) -> None:
        for old in self._retired:
            await old.aclose()
        await self._http.aclose()

    async def use_client_certificate(self, cert: tuple[str, str]) -> None:
        """Present `cert` from now on (a rotated certificate): every new request goes over a new connection;
        those made with the old certificate finish what they carry (a watch included), then idle until the
        server closes them, and are closed with the client at the latest."""
        old = self._http
        self._http = httpx.AsyncClient(verify=tls_context(self._verify, cert), **self._settings)
        self._retired.append(old)

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ raw

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """Send one request; the decoded JSON reply, or ApiError."""
        content = None
        headers = {}
        if body is not None:
            content = body if isinstance(body, bytes | str) else json.dumps(body)
            headers["Content-Type"] = content_type
        params = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            resp = await self._http.request(method, path, content=content, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise errors.ServiceUnavailable(f"cannot reach the apiserver at {self.server}: {exc}") from exc
        return _decode(resp)

    async def request_object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """`request` for verbs that answer an object: anything else is a protocol error, said plainly."""
        reply = await self.request(method, path, **kwargs)
        if not isinstance(reply, dict):
            raise errors.InternalError(f"{method} {path}: expected an object, got {type(reply).__name__}")
        return reply

    async def request_text(self, path: str, params: dict[str, Any] | None = None) -> str:
        resp = await self._http.get(path, params={k: v for k, v in (params or {}).items() if v is not None})
        if resp.status_code >= 400:
            _decode(resp)
        return resp.text

    # ------------------------------------------------------------------ verbs

    async def get(self, rt: ResourceType, name: str, namespace: str | None = None) -> dict[str, Any]:
        return await self.request_object("GET", rt.object_path(name, namespace))

    async def list(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> dict[str, Any]:
        params = {
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
            "limit": limit,
            "continue": continue_token,
        }
        return await self.request_object("GET", rt.collection_path(namespace), params=params)

    async def create(
        self, rt: ResourceType, obj: dict[str, Any], namespace: str | None = None,
        *, params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        namespace = namespace or (obj.get("metadata") or {}).get("namespace")
        return await self.request_object("POST", rt.collection_path(namespace), body=obj, params=params)

    async def replace(self, rt: ResourceType, obj: dict[str, Any], subresource: str | None = None) -> dict[str, Any]:
        """PUT the whole object (optimistic concurrency on its metadata.resourceVersion)."""
        meta = obj["metadata"]
        path = rt.object_path(meta["name"], meta.get("namespace"), subresource)
        return await self.request_object("PUT", path, body=obj)

    async def replace_status(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        return await self.replace(rt, obj, "status")

    async def patch(
        self,
        rt: ResourceType,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: str = "merge",
        subresource: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return await self.request_object(
            "PATCH", rt.object_path(name, namespace, subresource), body=patch,
            content_type=PATCH_TYPES[patch_type], params=params,
        )

    async def delete(
        self,
        rt: ResourceType,
        name: str,
        namespace: str | None = None,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        preconditions: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if preconditions:
            options["preconditions"] = preconditions
        return await self.request_object("DELETE", rt.object_path(name, namespace), body=options)

    async def bind(self, pod_namespace: str, pod_name: str, node_name: str, pod_uid: str | None = None) -> Any:
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": pod_name, "namespace": pod_namespace, **({"uid": pod_uid} if pod_uid else {})},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node_name},
        }
        return await self.request_object(
            "POST", f"/api/v1/namespaces/{pod_namespace}/pods/{pod_name}/binding", body=binding
        )

    async def watch(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Yield (type, object) events. An ERROR event raises its Status as ApiError (Gone for 410)."""
        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
            "timeoutSeconds": timeout_seconds,
            "allowWatchBookmarks": "true" if allow_bookmarks else None,
        }
        params = {k: v for k, v in params.items() if v is not None}
        read_timeout = (timeout_seconds + 30) if timeout_seconds else None
        try:
            async with self._http.stream(
                "GET", rt.collection_path(namespace), params=params,
                timeout=httpx.Timeout(30.0, connect=5.0, read=read_timeout),
            ) as resp:
                if resp.status_code >= 400:
                    await resp.aread()
                    _decode(resp)
                async for line in resp.aiter_lines():
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise errors.error_from_status(status, int(status.get("code") or 500))
                    yield event["type"], event["object"]
        except httpx.TransportError as exc:
            raise errors.ServiceUnavailable(f"watch of {rt.plural} interrupted: {exc}") from exc


def _decode(resp: httpx.Response) -> Any:
    try:
        body = resp.json() if resp.content else None
    except ValueError:
        body = None
    if resp.status_code >= 400:
        fallback = resp.text[:200] if body is None else ""
        raise errors.error_from_status(body, resp.status_code, fallback)
    return body
