"""Discovery and server metadata: /api, /apis, group-version resource lists, /version, health.

The legacy discovery form (APIVersions, APIGroupList, APIResourceList) is served; kubectl accepts it when
the aggregated form is not offered.
"""

from __future__ import annotations

import json
import platform
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from apiserver.responses import json_response
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


#: subresource -> (verbs, (group, version, kind) of its body; None: the parent's own kind)
_SUBRESOURCES: dict[str, tuple[list[str], tuple[str, str, str] | None]] = {
    "status": (["get", "patch", "update"], None),
    "scale": (["get", "patch", "update"], ("autoscaling", "v1", "Scale")),
    "binding": (["create"], ("", "v1", "Binding")),
    "eviction": (["create"], ("policy", "v1", "Eviction")),
    "log": (["get"], ("", "v1", "Pod")),
    "finalize": (["update"], None),
    "token": (["create"], ("authentication.k8s.io", "v1", "TokenRequest")),
}


def _subresource(r: ResourceType, sub: str) -> tuple[list[str], tuple[str, str, str]]:
    verbs, kind = _SUBRESOURCES.get(sub, (["get"], None))
    return verbs, kind or (r.group, r.version, r.kind)


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
        verbs, (group, version, kind) = _subresource(r, sub)
        entry = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced, "kind": kind,
                 "verbs": verbs}
        if (group, version) != (r.group, r.version):
            entry.update(group=group, version=version)
        entries.append(entry)
    return entries


# ---------------------------------------------------------------- aggregated discovery (apidiscovery.k8s.io/v2)

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str | None) -> bool:
    """Clients list the forms they take in preference order; answer v2 when it is among them."""
    for part in (accept or "").split(","):
        params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in part.split(";")[1:])}
        if params.get("g") == "apidiscovery.k8s.io" and params.get("v") == "v2" and params.get(
                "as") == "APIGroupDiscoveryList":
            return True
    return False


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "version": version, "kind": kind}


def _aggregated_resource(r: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": _gvk(r.group, r.version, r.kind),
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular_name,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    subs = []
    for sub in r.subresources:
        verbs, kind = _subresource(r, sub)
        subs.append({"subresource": sub, "responseKind": _gvk(*kind), "verbs": verbs})
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated(core: bool) -> dict[str, Any]:
    """The APIGroupDiscoveryList of /api (core) or /apis (every named group), resources included."""
    items = []
    names = [""] if core else sorted(_groups())
    for group in names:
        versions = ["v1"] if core else _groups()[group]
        items.append({"metadata": {"name": group} if group else {}, "versions": [{
            "version": version,
            "resources": [_aggregated_resource(r) for r in RESOURCES if r.group == group and r.version == version],
            "freshness": "Current",
        } for version in versions]})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}


def _aggregated_response(core: bool) -> Response:
    return Response(json.dumps(aggregated(core), separators=(",", ":")), media_type=AGGREGATED,
                    headers={"Vary": "Accept"})


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
@router.get("/api/", include_in_schema=False)
async def api_versions(request: Request) -> Response:
    if wants_aggregated(request.headers.get("accept")):
        return _aggregated_response(core=True)
    return json_response({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": request.url.netloc}],
    })


@router.get("/apis", include_in_schema=False)
@router.get("/apis/", include_in_schema=False)
async def api_groups(request: Request) -> Response:
    if wants_aggregated(request.headers.get("accept")):
        return _aggregated_response(core=False)
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
@router.get("/apis/{group}/", include_in_schema=False)
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
