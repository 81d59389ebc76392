"""Discovery and server metadata: /api, /apis, group-version resource lists, /version, health.

Health is kube-apiserver's: /livez and /healthz (`ping`, `log`, `etcd`, post-start hooks) and /readyz (those and
`etcd-readiness`, `informer-sync`, `watch-cache`, `shutdown`), rendered by kube/healthz.py (`?verbose`,
`?exclude=`, `/readyz/<check>`, 500 with `[-]etcd failed: reason withheld`). etcd is probed for real, at most once
a second and for at most two seconds, so readyz turns red while etcd is unreachable.

The legacy discovery form (APIVersions, APIGroupList, APIResourceList) is served; kubectl accepts it when
the aggregated form is not offered.
"""

from __future__ import annotations

import asyncio
import json
import platform
from collections.abc import Awaitable
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from apiserver.responses import json_response
from kube import errors, healthz
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


# ---------------------------------------------------------------- health (Kubernetes' named checks)

ETCD_CHECK_TIMEOUT = 2.0  # seconds an etcd probe may take before the check fails
ETCD_CHECK_CACHE = 1.0  # seconds a probe's answer is reused: a storm of probes costs one etcd read a second


class EtcdProbe:
    """One shared, rate-limited read of etcd's revision: the `etcd` and `etcd-readiness` checks.

    Concurrent checks wait for the same probe, and its answer is reused for ETCD_CHECK_CACHE seconds, so probes of
    a dead etcd never pile up."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self._at = -1e9
        self._result: str | None = None
        self._inflight: asyncio.Future[str | None] | None = None

    async def check(self) -> str | None:
        loop = asyncio.get_running_loop()
        if loop.time() - self._at < ETCD_CHECK_CACHE:
            return self._result
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._probe())
        inflight = self._inflight
        try:
            return await asyncio.shield(inflight)
        finally:
            if inflight.done() and self._inflight is inflight:
                self._inflight = None

    async def _probe(self) -> str | None:
        try:
            await asyncio.wait_for(self.storage.revision(), ETCD_CHECK_TIMEOUT)
            result = None
        except TimeoutError:
            result = f"etcd did not answer within {ETCD_CHECK_TIMEOUT:.0f}s"
        except Exception as exc:
            result = f"etcd: {exc}" if str(exc) else f"etcd: {type(exc).__name__}"
        self._result, self._at = result, asyncio.get_running_loop().time()
        return result


def _etcd_check(state: Any) -> str | Awaitable[str | None] | None:
    registry = getattr(state, "registry", None)
    if registry is None:
        return "etcd client connection not yet established"
    probe = getattr(state, "etcd_probe", None)
    if probe is None or probe.storage is not registry.storage:
        probe = state.etcd_probe = EtcdProbe(registry.storage)
    return probe.check()


def _watch_caches(state: Any) -> str | None:
    """Every watch cache started and its etcd watch loop running (a crashed loop would serve a frozen cache)."""
    registry = getattr(state, "registry", None)
    if registry is None:
        return "watch caches not started"
    stopped = sorted(cache.resource for cache in registry.caches.values()
                     if cache._task is None or cache._task.done())
    return f"{len(stopped)} watch caches not running: {', '.join(stopped)}" if stopped else None


def _informers(state: Any) -> str | None:
    """The authorizer's RBAC indexes (listed and watched from the watch caches) have their first list."""
    authorization = getattr(state, "authorization", None)
    if authorization is not None and not authorization.synced:
        return "the RBAC informers have not synced yet"
    return None


def _bootstrapped(state: Any) -> str | None:
    """Namespaces and the default RBAC policy are written before the registry is published to requests."""
    return None if getattr(state, "registry", None) is not None else "not finished"


def _shutdown(state: Any) -> str | None:
    """The registry is set before serving and `ready` cleared first on shutdown: registry without ready = stopping."""
    stopping = getattr(state, "registry", None) is not None and not getattr(state, "ready", False)
    return "process is shutting down" if stopping else None


def health_checks(state: Any, endpoint: str) -> list[healthz.NamedCheck]:
    """The checks kube-apiserver installs on /livez (and /healthz) and on /readyz, in its order."""
    live = [healthz.PING, healthz.LOG,
            healthz.NamedCheck("etcd", lambda: _etcd_check(state)),
            healthz.NamedCheck("poststarthook/bootstrap-controller", lambda: _bootstrapped(state)),
            healthz.NamedCheck("poststarthook/rbac/bootstrap-roles", lambda: _bootstrapped(state))]
    if endpoint != "readyz":
        return live
    return [*live[:3],
            healthz.NamedCheck("etcd-readiness", lambda: _etcd_check(state)),
            healthz.NamedCheck("informer-sync", lambda: _informers(state)),
            healthz.NamedCheck("watch-cache", lambda: _watch_caches(state)),
            *live[3:],
            healthz.NamedCheck("shutdown", lambda: _shutdown(state))]


async def _health(request: Request, endpoint: str, check: str = "") -> Response:
    found = await healthz.answer(endpoint, health_checks(request.app.state, endpoint), check,
                                 parse_qs(request.url.query, keep_blank_values=True))
    if found is None:
        return PlainTextResponse("404 page not found\n", status_code=404, headers=healthz.HEADERS)
    return Response(found.body, status_code=found.status, headers=healthz.HEADERS)


@router.get("/healthz", include_in_schema=False)
async def healthz_all(request: Request) -> Response:
    return await _health(request, "healthz")


@router.get("/healthz/{check:path}", include_in_schema=False)
async def healthz_one(request: Request, check: str) -> Response:
    return await _health(request, "healthz", check)


@router.get("/livez", include_in_schema=False)
async def livez_all(request: Request) -> Response:
    return await _health(request, "livez")


@router.get("/livez/{check:path}", include_in_schema=False)
async def livez_one(request: Request, check: str) -> Response:
    return await _health(request, "livez", check)


@router.get("/readyz", include_in_schema=False)
async def readyz_all(request: Request) -> Response:
    return await _health(request, "readyz")


@router.get("/readyz/{check:path}", include_in_schema=False)
async def readyz_one(request: Request, check: str) -> Response:
    return await _health(request, "readyz", check)
