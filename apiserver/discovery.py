"""Discovery and server metadata: /api, /apis, group-version resource lists, /version, health.

The legacy discovery form (APIVersions, APIGroupList, APIResourceList) is served; kubectl accepts it when
the aggregated form is not offered.
"""

from __future__ import annotations

import platform
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from apiserver.routes import json_response
from kube import errors
from kube.resources import RESOURCES, ResourceType

__all__ = ["KUBE_VERSION", "router"]

router = APIRouter()

KUBE_VERSION = {"major": "1", "minor": "36", "gitVersion": "v1.36.0-kubelite"}


def _groups() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for r in RESOURCES:
        if r.group and r.version not in groups.setdefault(r.group, []):
            groups[r.group].append(r.version)
    return groups


def _resource_entries(r: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": r.plural,
        "singularName": r.singular_name,
        "namespaced": r.namespaced,
        "kind": r.kind,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        main["shortNames"] = list(r.short_names)
    if r.categories:
        main["categories"] = list(r.categories)
    entries = [main]
    for sub in r.subresources:
        verbs = {"status": ["get", "patch", "update"], "binding": ["create"], "log": ["get"]}.get(sub, ["get"])
        kind = {"binding": "Binding", "log": "Pod"}.get(sub, r.kind)
        entries.append({"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                        "kind": kind, "verbs": verbs})
    return entries


def _resource_list(group: str, version: str) -> dict[str, Any] | None:
    members = [r for r in RESOURCES if r.group == group and r.version == version]
    if not members:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [e for r in members for e in _resource_entries(r)],
    }


@router.get("/api", include_in_schema=False)
async def api_versions(request: Request) -> Response:
    return json_response({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": request.url.netloc}],
    })


@router.get("/apis", include_in_schema=False)
async def api_groups() -> Response:
    groups = []
    for name, versions in sorted(_groups().items()):
        gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        groups.append({"name": name, "versions": gvs, "preferredVersion": gvs[0]})
    return json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})


@router.get("/api/{version}", include_in_schema=False)
async def core_resources(version: str) -> Response:
    found = _resource_list("", version)
    if found is None:
        raise errors.NotFound(f"the server could not find the requested resource (api/{version})")
    return json_response(found)


@router.get("/apis/{group}", include_in_schema=False)
async def api_group(group: str) -> Response:
    versions = _groups().get(group)
    if not versions:
        raise errors.NotFound(f"the server could not find the requested resource (apis/{group})")
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return json_response({"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": gvs,
                          "preferredVersion": gvs[0]})


@router.get("/apis/{group}/{version}", include_in_schema=False)
async def group_resources(group: str, version: str) -> Response:
    found = _resource_list(group, version)
    if found is None:
        raise errors.NotFound(f"the server could not find the requested resource (apis/{group}/{version})")
    return json_response(found)


@router.get("/version", include_in_schema=False)
async def version() -> Response:
    return json_response({
        **KUBE_VERSION,
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "2026-11-22T00:00:00Z",
        "goVersion": f"python{platform.python_version()}",
        "compiler": "cpython",
        "platform": f"linux/{'amd64' if platform.machine() in ('x86_64', 'AMD64') else platform.machine()}",
    })


@router.get("/healthz", include_in_schema=False)
@router.get("/livez", include_in_schema=False)
async def healthz() -> Response:
    return PlainTextResponse("ok")


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> Response:
    if not getattr(request.app.state, "ready", False):
        return PlainTextResponse("not ready: etcd or bootstrap pending", status_code=503)
    return PlainTextResponse("ok")
