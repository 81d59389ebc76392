"""HTTP routing for resources: turns `/api/v1/namespaces/ns/pods/name/status` into a verb on the registry.

One generic router driven by the resource table, as Kubernetes' own apiserver installs its REST storage.
Each request is taken apart completely before the registry runs: the path (from the real, decoded path,
every segment kept: an empty or whitespace name is a name, never the collection), the query (typed by
`apiserver.params`), the body (`apiserver.decoding`). Subresources are handlers registered by name; which
resource has which is declared in the resource table. Replies are JSON; watches newline-delimited JSON
over a chunked stream.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import Response, StreamingResponse

from apiserver import decoding, discovery, patching, protobuf, subresources, tables
from apiserver.filters import user_of
from apiserver.params import (
    DeleteOptions,
    ListOptions,
    WriteOptions,
    parse_delete_options,
    parse_resource_version,
    parse_write_options,
)
from apiserver.responses import json_response, warning_header
from apiserver.rest import Registry
from kube import errors, fastjson
from kube.resources import ResourceType, by_plural

__all__ = ["RequestInfo", "json_response", "parse_path", "router", "warning_header"]

log = logging.getLogger("apiserver.routes")
router = APIRouter()

_BODY_TYPES = (*decoding.JSON_TYPES, *decoding.YAML_TYPES, protobuf.CONTENT_TYPE)
_PATCH_TYPES = (patching.JSON, patching.MERGE, patching.STRATEGIC, patching.APPLY)


@dataclass
class RequestInfo:
    resource: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


def _not_found(what: str) -> errors.NotFound:
    return errors.NotFound(f"the server could not find the requested resource ({what})")


def parse_path(group: str, version: str, rest: str) -> RequestInfo:
    """`rest` is everything after `/api/v1/` or `/apis/G/V/`, percent-decoded. Every segment counts: an
    empty one (a trailing or doubled slash) matches nothing, so no name can turn into the collection."""
    parts = rest.split("/")
    if any(p == "" for p in parts):
        raise _not_found(rest)
    namespace = None
    if len(parts) >= 3 and parts[0] == "namespaces":
        candidate = by_plural(group, version, parts[2])
        if candidate is not None and candidate.namespaced:
            namespace, parts = parts[1], parts[2:]
    if len(parts) > 3:
        raise _not_found("/".join(parts))
    resource = by_plural(group, version, parts[0])
    if resource is None:
        raise errors.NotFound(
            f"the server could not find the requested resource (resource {parts[0]!r} in "
            f"{group + '/' if group else ''}{version})"
        )
    name = parts[1] if len(parts) > 1 else None
    sub = parts[2] if len(parts) > 2 else None
    if name in (".", "..") or namespace in (".", ".."):
        raise _not_found("/".join(parts))
    if sub is not None and sub not in resource.subresources:
        raise _not_found(f"{resource.plural}/{sub}")
    if not resource.namespaced and namespace:
        raise errors.NotFound(f"{resource.plural} are not namespaced")
    return RequestInfo(resource, namespace, name, sub)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_body(request: Request, allow_empty: bool = False, accepted: tuple[str, ...] = _BODY_TYPES) -> Any:
    return (await _read(request, allow_empty, accepted)).value


async def _read(request: Request, allow_empty: bool = False,
                accepted: tuple[str, ...] = _BODY_TYPES) -> decoding.Decoded:
    raw = await request.body()
    if not raw.strip():
        if allow_empty:
            return decoding.Decoded(None, [])
        raise errors.BadRequest("the request body is empty")
    content_type = _media_type(request)
    if content_type not in accepted:
        raise errors.UnsupportedMediaType(
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{', '.join(t for t in accepted if t)}")
    return decoding.decode_body(raw, content_type)


def _include_object(request: Request) -> str:
    value = request.query_params.get("includeObject") or "Metadata"
    if value not in ("None", "Metadata", "Object"):
        raise errors.BadRequest(f"includeObject must be None, Metadata or Object; got {value!r}")
    return value


def _registry(request: Request) -> Registry:
    return request.app.state.registry


def _write_options(request: Request, kind: str, apply: bool = False) -> WriteOptions:
    options = parse_write_options(request.query_params, request.query_params.getlist("dryRun"), kind, apply,
                                  request.headers.get("user-agent", ""))
    return dataclasses.replace(options, user=user_of(request.scope))


async def _delete_options(request: Request) -> DeleteOptions:
    body = (await _read(request, allow_empty=True)).value
    options = parse_delete_options(body, request.query_params, request.query_params.getlist("dryRun"))
    return dataclasses.replace(options, user=user_of(request.scope))


@dataclass
class Call:
    """One resource request, taken apart: what every handler gets."""

    request: Request
    registry: Registry
    resource: ResourceType
    namespace: str | None
    name: str
    subresource: str | None

    @property
    def method(self) -> str:
        return self.request.method


Handler = Callable[[Call], Awaitable[Response]]


def _only(method: str, call: Call) -> None:
    if call.method != method:
        raise errors.MethodNotAllowed(f"only {method} is supported on {call.resource.plural}/{call.subresource}")


async def handle(request: Request, group: str, version: str) -> Response:
    rest = _rest_of_path(request, group, version)
    if rest == "" and request.method == "GET":  # `/api/v1/`: the group-version's discovery, as with no slash
        return await (discovery.group_resources(group, version) if group else discovery.core_resources(version))
    info = parse_path(group, version, rest)
    registry = _registry(request)
    rt, ns, name, sub = info.resource, info.namespace, info.name, info.subresource
    method = request.method
    if rt.namespaced and name is not None and ns is None:
        raise _not_found(f"{rt.plural}/{name}")
    if method in ("POST", "PUT") and rt.namespaced and ns is None and name is None:
        raise errors.BadRequest(f"{rt.plural} must be created in a namespace: use .../namespaces/NS/{rt.plural}")
    if name is None:
        return await _collection(request, registry, rt, ns)
    call = Call(request, registry, rt, ns, name, sub)
    return await SUBRESOURCES.get(sub or "", _object)(call)


def _rest_of_path(request: Request, group: str, version: str) -> str:
    """What follows the group-version in the real (decoded) path: route parameters stop at a newline."""
    path: str = request.scope["path"]
    prefix = f"/apis/{group}/{version}/" if group else f"/api/{version}/"
    if not path.startswith(prefix):
        raise _not_found(path)
    return path[len(prefix):]


async def _collection(request: Request, registry: Registry, rt: ResourceType, ns: str | None) -> Response:
    method = request.method
    if method == "GET":
        opts = ListOptions.from_query(request.query_params)
        if opts.watch:
            return await _watch_response(request, registry, rt, ns, opts)
        listed = await registry.list(rt, ns, opts)
        if tables.wants_table(request.headers.get("accept")):
            meta = listed["metadata"]
            return json_response(tables.table(rt, listed["items"], meta["resourceVersion"], meta.get("continue"),
                                              _include_object(request)))
        return json_response(listed)
    if method == "POST":
        options = _write_options(request, "CreateOptions")
        body = await _read(request)
        obj, warnings = await registry.create(rt, ns, body.value, options, body.duplicates)
        return json_response(obj, 201, warnings)
    if method == "DELETE":
        opts = ListOptions.from_query(request.query_params)
        return json_response(await registry.delete_collection(rt, ns, opts, await _delete_options(request)))
    raise errors.MethodNotAllowed(f"{method} is not supported on {rt.plural}")


async def _object(call: Call) -> Response:
    """The object itself, and the subresources that are a view of it (status, finalize)."""
    request, registry, rt, ns, name, sub = (call.request, call.registry, call.resource, call.namespace,
                                            call.name, call.subresource)
    method = request.method
    if method == "GET":
        rv = parse_resource_version(request.query_params.get("resourceVersion"))
        obj = await registry.get(rt, ns, name, rv)
        if sub is None and tables.wants_table(request.headers.get("accept")):
            return json_response(tables.table(rt, [obj], obj["metadata"].get("resourceVersion"),
                                              include_object=_include_object(request)))
        return json_response(obj)
    if method == "PUT":
        options = _write_options(request, "UpdateOptions")
        body = await _read(request)
        obj, warnings = await registry.update(rt, ns, name, body.value, options, subresource=sub,
                                              duplicates=body.duplicates)
        return json_response(obj, 200, warnings)
    if method == "PATCH":
        content_type = _media_type(request) or patching.MERGE
        options = _write_options(request, "PatchOptions", apply=content_type == patching.APPLY)
        patch = await read_body(request, accepted=_PATCH_TYPES)
        if content_type == patching.APPLY:  # an apply that creates answers 201, as Kubernetes' patch handler
            obj, warnings, created = await registry.apply(rt, ns, name, patch, options, subresource=sub)
            return json_response(obj, 201 if created else 200, warnings)
        obj, warnings = await registry.patch(rt, ns, name, patch, content_type, options, subresource=sub)
        return json_response(obj, 200, warnings)
    if method == "DELETE" and sub is None:
        obj, gone = await registry.delete(rt, ns, name, await _delete_options(request))
        return json_response(obj, 200 if gone else 202)
    raise errors.MethodNotAllowed(f"{method} is not supported on {rt.plural}{'/' + sub if sub else ''}")


async def _finalize(call: Call) -> Response:
    _only("PUT", call)
    return await _object(call)


async def _binding(call: Call) -> Response:
    _only("POST", call)
    options = _write_options(call.request, "CreateOptions")
    body = await read_body(call.request)
    return json_response(await call.registry.bind(call.resource, call.namespace or "", call.name, body, options),
                         201)


async def _scale(call: Call) -> Response:
    request, registry, rt, ns, name = call.request, call.registry, call.resource, call.namespace, call.name
    if request.method == "GET":
        return json_response(await subresources.get_scale(registry, rt, ns, name))
    if request.method == "PUT":
        options = _write_options(request, "UpdateOptions")
        return json_response(await subresources.update_scale(registry, rt, ns, name, await read_body(request),
                                                             None, options))
    if request.method == "PATCH":
        content_type = _media_type(request) or patching.MERGE
        options = _write_options(request, "PatchOptions", apply=content_type == patching.APPLY)
        body = await read_body(request, accepted=_PATCH_TYPES)
        return json_response(await subresources.update_scale(registry, rt, ns, name, body, content_type, options))
    raise errors.MethodNotAllowed(f"{request.method} is not supported on {rt.plural}/scale")


async def _eviction(call: Call) -> Response:
    _only("POST", call)
    body = await read_body(call.request)
    dry_run = call.request.query_params.getlist("dryRun")
    return json_response(await subresources.evict(call.registry, call.namespace or "", call.name, body, dry_run,
                                                  user_of(call.request.scope)), 201)


async def _log(call: Call) -> Response:
    _only("GET", call)
    return await call.request.app.state.kubelet.logs(call.request, call.registry, call.namespace or "", call.name)


#: subresource name -> its handler; kube.resources declares which resource serves which.
async def _token(call: Call) -> Response:
    _only("POST", call)
    issuer = call.request.app.state.token_requests
    if issuer is None:  # no --service-account-signing-key-file: Kubernetes serves no TokenRequest then
        raise _not_found(f"{call.resource.plural}/{call.subresource}")
    body = await read_body(call.request)
    dry_run = parse_write_options(call.request.query_params, call.request.query_params.getlist("dryRun")).dry_run
    answer = await issuer.create(call.registry, call.namespace or "", call.name, body, user_of(call.request.scope),
                                 dry_run)
    return json_response(answer, 201)


SUBRESOURCES: dict[str, Handler] = {
    "status": _object,
    "finalize": _finalize,
    "binding": _binding,
    "scale": _scale,
    "eviction": _eviction,
    "log": _log,
    "ephemeralcontainers": _object,
    "approval": _object,
    "token": _token,
}


async def _watch_response(request: Request, registry: Registry, rt: ResourceType, ns: str | None,
                          opts: ListOptions) -> Response:
    # Checked before the stream starts, so a resourceVersion the store has not reached is a 504 reply.
    if opts.revision and not opts.send_initial_events:
        await registry.require_revision(opts.revision)
    # A resourceVersion too old for the watch cache arrives as an ERROR event (410) in the stream, as
    # Kubernetes sends it; clients re-list.
    events = registry.watch(rt, ns, opts, bookmark_interval=request.app.state.bookmark_interval)
    as_table = tables.wants_table(request.headers.get("accept"))
    return StreamingResponse(_stream(events, opts.timeout_seconds, rt if as_table else None,
                                     _include_object(request)), media_type="application/json")


async def _stream(events: AsyncIterator[dict[str, Any]], timeout: float | None, table_of: ResourceType | None = None,
                  include_object: str = "Metadata") -> AsyncIterator[bytes]:
    """Encode events; for a Table watch each object becomes a one-row Table (headers on the first only)."""
    first = True
    try:
        async with asyncio.timeout(timeout or None):
            async for event in events:
                if table_of is not None and event["type"] != "BOOKMARK":
                    obj = event["object"]
                    event = {"type": event["type"], "object": tables.table(
                        table_of, [obj], obj["metadata"].get("resourceVersion"), include_object=include_object,
                        with_headers=first)}
                    first = False
                yield fastjson.dumps_line(event)
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
    return await handle(request, "", version)


@router.api_route("/apis/{group}/{version}/{rest:path}", methods=_METHODS, include_in_schema=False)
async def group_resources(request: Request, group: str, version: str, rest: str) -> Response:
    return await handle(request, group, version)
