"""HTTP routing for resources: turns `/api/v1/namespaces/ns/pods/name/status` into a verb on the registry.

One generic router driven by the resource table, as Kubernetes' own apiserver installs its REST storage;
request bodies are JSON or YAML, replies JSON, watches newline-delimited JSON over a chunked stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import yaml
from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import Response, StreamingResponse

from apiserver import protobuf, subresources, tables
from apiserver.rest import ListOptions, Registry
from kube import errors
from kube.resources import NAMESPACES, PODS, ResourceType, by_plural

__all__ = ["RequestInfo", "parse_path", "router"]

log = logging.getLogger("apiserver.routes")
router = APIRouter()

JSON_TYPES = ("application/json", "")
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


@dataclass
class RequestInfo:
    resource: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


def parse_path(group: str, version: str, rest: str) -> RequestInfo:
    parts = [p for p in rest.split("/") if p]
    namespace = None
    if len(parts) >= 3 and parts[0] == "namespaces":
        candidate = by_plural(group, version, parts[2])
        if candidate is not None and candidate.namespaced:
            namespace, parts = parts[1], parts[2:]
    if not parts or len(parts) > 3:
        raise errors.NotFound(f"the server could not find the requested resource ({'/'.join(parts)})")
    resource = by_plural(group, version, parts[0])
    if resource is None:
        raise errors.NotFound(
            f"the server could not find the requested resource (resource {parts[0]!r} in "
            f"{group + '/' if group else ''}{version})"
        )
    name = parts[1] if len(parts) > 1 else None
    sub = parts[2] if len(parts) > 2 else None
    if sub is not None and sub not in resource.subresources:
        raise errors.NotFound(f"the server could not find the requested resource ({resource.plural}/{sub})")
    if not resource.namespaced and namespace:
        raise errors.NotFound(f"{resource.plural} are not namespaced")
    return RequestInfo(resource, namespace, name, sub)


def json_response(body: Any, status: int = 200, warnings: list[str] | None = None) -> Response:
    headers = {"Warning": ", ".join(f'299 - "{w}"' for w in warnings)} if warnings else None
    return Response(json.dumps(body, separators=(",", ":")), status_code=status,
                    media_type="application/json", headers=headers)


async def read_body(request: Request, allow_empty: bool = False) -> Any:
    raw = await request.body()
    if not raw.strip():
        if allow_empty:
            return None
        raise errors.BadRequest("the request body is empty")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == protobuf.CONTENT_TYPE:
        return protobuf.decode(raw)
    try:
        if content_type in YAML_TYPES or content_type == "application/apply-patch+yaml":
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise errors.BadRequest(f"the request body could not be decoded: {exc}") from exc


def _list_options(request: Request) -> ListOptions:
    q = request.query_params
    try:
        limit = int(q.get("limit") or 0)
    except ValueError:
        raise errors.BadRequest(f"limit must be an integer, got {q.get('limit')!r}") from None
    return ListOptions(
        label_selector=q.get("labelSelector"),
        field_selector=q.get("fieldSelector"),
        limit=limit,
        continue_token=q.get("continue"),
        resource_version=q.get("resourceVersion"),
    )


def _field_validation(request: Request) -> str:
    value = request.query_params.get("fieldValidation") or "Warn"
    if value not in ("Ignore", "Warn", "Strict"):
        raise errors.BadRequest(f"fieldValidation must be one of Ignore, Warn, Strict; got {value!r}")
    return value


def _include_object(request: Request) -> str:
    value = request.query_params.get("includeObject") or "Metadata"
    if value not in ("None", "Metadata", "Object"):
        raise errors.BadRequest(f"includeObject must be None, Metadata or Object; got {value!r}")
    return value


def _registry(request: Request) -> Registry:
    return request.app.state.registry


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


async def _delete_options(request: Request) -> dict[str, Any]:
    body = await read_body(request, allow_empty=True) or {}
    if not isinstance(body, dict):
        raise errors.BadRequest("DeleteOptions must be an object")
    q = request.query_params
    if q.get("gracePeriodSeconds") is not None:
        try:
            body["gracePeriodSeconds"] = int(q["gracePeriodSeconds"])
        except ValueError:
            raise errors.BadRequest("gracePeriodSeconds must be an integer") from None
    if q.get("propagationPolicy"):
        body["propagationPolicy"] = q["propagationPolicy"]
    return body


async def handle(request: Request, group: str, version: str, rest: str) -> Response:
    info = parse_path(group, version, rest)
    registry = _registry(request)
    rt, ns, name, sub = info.resource, info.namespace, info.name, info.subresource
    method = request.method
    if rt.namespaced and name is not None and ns is None:
        raise errors.NotFound(f"the server could not find the requested resource ({rt.plural}/{name})")
    if method in ("POST", "PUT") and rt.namespaced and ns is None and rt is not NAMESPACES:
        raise errors.BadRequest(f"{rt.plural} must be created in a namespace: use .../namespaces/NS/{rt.plural}")

    if name is None:
        if method == "GET":
            opts = _list_options(request)
            if _truthy(request.query_params.get("watch")):
                return _watch_response(request, registry, rt, ns, opts)
            listed = await registry.list(rt, ns, opts)
            if tables.wants_table(request.headers.get("accept")):
                meta = listed["metadata"]
                return json_response(tables.table(rt, listed["items"], meta["resourceVersion"], meta.get("continue"),
                                                  _include_object(request)))
            return json_response(listed)
        if method == "POST":
            obj, warnings = await registry.create(rt, ns, await read_body(request), _field_validation(request))
            return json_response(obj, 201, warnings)
        if method == "DELETE":
            opts = _list_options(request)
            return json_response(await registry.delete_collection(rt, ns, opts, await _delete_options(request)))
        raise errors.MethodNotAllowed(f"{method} is not supported on {rt.plural}")

    if sub == "binding":
        if method != "POST" or rt is not PODS:
            raise errors.MethodNotAllowed("only POST is supported on pods/binding")
        return json_response(await registry.bind(ns or "", name, await read_body(request)), 201)
    if sub == "scale" and sub in rt.subresources:
        return await _scale(request, registry, rt, ns, name)
    if sub == "eviction" and rt is PODS:
        if method != "POST":
            raise errors.MethodNotAllowed("only POST is supported on pods/eviction")
        return json_response(await subresources.evict(registry, ns or "", name, await read_body(request)), 201)
    if sub == "log" and rt is PODS:
        if method != "GET":
            raise errors.MethodNotAllowed("only GET is supported on pods/log")
        return await request.app.state.kubelet.logs(request, registry, ns or "", name)
    if sub == "finalize" and rt is NAMESPACES and method != "PUT":
        raise errors.MethodNotAllowed("only PUT is supported on namespaces/finalize")
    if sub not in (None, "status", "finalize"):
        raise errors.NotFound(f"the server could not find the requested resource ({rt.plural}/{sub})")

    if method == "GET":
        obj = await registry.get(rt, ns, name)
        if sub is None and tables.wants_table(request.headers.get("accept")):
            return json_response(tables.table(rt, [obj], obj["metadata"].get("resourceVersion"),
                                              include_object=_include_object(request)))
        return json_response(obj)
    if method == "PUT":
        obj, warnings = await registry.update(rt, ns, name, await read_body(request), _field_validation(request),
                                              subresource=sub)
        return json_response(obj, 200, warnings)
    if method == "PATCH":
        content_type = request.headers.get("content-type", "application/merge-patch+json")
        obj, warnings = await registry.patch(rt, ns, name, await read_body(request), content_type,
                                             _field_validation(request), subresource=sub)
        return json_response(obj, 200, warnings)
    if method == "DELETE" and sub is None:
        obj, gone = await registry.delete(rt, ns, name, await _delete_options(request))
        return json_response(obj, 200 if gone else 202)
    raise errors.MethodNotAllowed(f"{method} is not supported on {rt.plural}{'/' + sub if sub else ''}")


async def _scale(request: Request, registry: Registry, rt: ResourceType, ns: str | None, name: str) -> Response:
    if request.method == "GET":
        return json_response(await subresources.get_scale(registry, rt, ns, name))
    if request.method == "PUT":
        return json_response(await subresources.update_scale(registry, rt, ns, name, await read_body(request)))
    if request.method == "PATCH":
        content_type = request.headers.get("content-type", "application/merge-patch+json")
        return json_response(await subresources.update_scale(registry, rt, ns, name, await read_body(request),
                                                             content_type))
    raise errors.MethodNotAllowed(f"{request.method} is not supported on {rt.plural}/scale")


def _watch_response(request: Request, registry: Registry, rt: ResourceType, ns: str | None,
                    opts: ListOptions) -> Response:
    q = request.query_params
    try:
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
    except ValueError:
        raise errors.BadRequest("timeoutSeconds must be a number") from None
    send_initial = _truthy(q.get("sendInitialEvents"))
    if send_initial and q.get("resourceVersionMatch") not in (None, "NotOlderThan"):
        raise errors.BadRequest("sendInitialEvents requires resourceVersionMatch=NotOlderThan")
    # A resourceVersion too old for the watch cache arrives as an ERROR event (410) in the stream, as
    # Kubernetes sends it; clients re-list.
    events = registry.watch(rt, ns, opts, send_initial_events=send_initial,
                            allow_bookmarks=_truthy(q.get("allowWatchBookmarks")),
                            bookmark_interval=request.app.state.bookmark_interval)
    as_table = tables.wants_table(request.headers.get("accept"))
    return StreamingResponse(_stream(events, timeout, rt if as_table else None, _include_object(request)),
                             media_type="application/json")


async def _stream(events: AsyncIterator[dict[str, Any]], timeout: float | None, table_of: ResourceType | None = None,
                  include_object: str = "Metadata") -> AsyncIterator[bytes]:
    """Encode events; for a Table watch each object becomes a one-row Table (headers on the first only)."""
    first = True
    try:
        async with asyncio.timeout(timeout):
            async for event in events:
                if table_of is not None and event["type"] != "BOOKMARK":
                    obj = event["object"]
                    event = {"type": event["type"], "object": tables.table(
                        table_of, [obj], obj["metadata"].get("resourceVersion"), include_object=include_object,
                        with_headers=first)}
                    first = False
                yield json.dumps(event, separators=(",", ":")).encode() + b"\n"
    except TimeoutError:
        return
    except errors.ApiError as exc:
        yield json.dumps({"type": "ERROR", "object": exc.to_status()}).encode() + b"\n"
    finally:
        await events.aclose()  # type: ignore[attr-defined]


_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
@router.websocket("/api/v1/namespaces/{namespace}/pods/{name}/exec")
async def pod_exec(websocket: WebSocket, namespace: str, name: str) -> None:
    """pods/exec as kubectl asks for it: a WebSocket relayed to the pod's kubelet."""
    await websocket.app.state.kubelet.exec(websocket, websocket.app.state.registry, namespace, name)


@router.websocket("/api/v1/namespaces/{namespace}/pods/{name}/attach")
async def pod_attach(websocket: WebSocket, namespace: str, name: str) -> None:
    await websocket.app.state.kubelet.exec(websocket, websocket.app.state.registry, namespace, name, "attach")


@router.websocket("/api/v1/namespaces/{namespace}/pods/{name}/portforward")
async def pod_port_forward(websocket: WebSocket, namespace: str, name: str) -> None:
    await websocket.app.state.kubelet.port_forward(websocket, websocket.app.state.registry, namespace, name)


@router.api_route("/api/v1/namespaces/{namespace}/pods/{name}/exec", methods=["GET", "POST"],
                  include_in_schema=False)
async def pod_exec_without_upgrade(request: Request, namespace: str, name: str) -> Response:
    return await request.app.state.kubelet.exec_without_upgrade(request, _registry(request), namespace, name)


@router.api_route("/api/v1/namespaces/{namespace}/pods/{name}/attach", methods=["GET", "POST"],
                  include_in_schema=False)
async def pod_attach_without_upgrade(request: Request, namespace: str, name: str) -> Response:
    return await request.app.state.kubelet.exec_without_upgrade(request, _registry(request), namespace, name,
                                                                "attach")


@router.api_route("/api/{version}/{rest:path}", methods=_METHODS, include_in_schema=False)
async def core_resources(request: Request, version: str, rest: str) -> Response:
    return await handle(request, "", version, rest)


@router.api_route("/apis/{group}/{version}/{rest:path}", methods=_METHODS, include_in_schema=False)
async def group_resources(request: Request, group: str, version: str, rest: str) -> Response:
    return await handle(request, group, version, rest)
