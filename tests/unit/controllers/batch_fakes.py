"""Fakes for the Job and CronJob controller unit tests: an API client that keeps objects in dicts and
logs every call, and a recorder that keeps Events. Informer caches are filled by hand (`cache`).

The real apiserver path is covered by tests/e2e/test_jobs.py; these fakes only let a test stop the world
between two steps (the state a crash would leave) and look at the order of the writes.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from controllers.context import ControllerContext, InformerFactory
from kube import errors
from kube.informer import Informer, object_key
from kube.resources import ResourceType

Obj = dict[str, Any]


class FakeClient:
    """Objects by (plural, namespace, name); resourceVersions from one counter, as etcd's revision."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.calls: list[tuple[str, str, str]] = []  # (verb, plural, name)
        self.status_writes: list[Obj] = []
        self._rv = itertools.count(100)
        self._uid = itertools.count(1)
        self.server = "fake"

    def put(self, rt: ResourceType, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(next(self._rv))
        obj.setdefault("kind", rt.kind)
        obj.setdefault("apiVersion", rt.api_version)
        self.objects[(rt.plural, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])] = obj
        return copy.deepcopy(obj)

    def _key(self, rt: ResourceType, name: str, namespace: str | None) -> tuple[str, str, str]:
        return rt.plural, namespace or "", name

    async def get(self, rt: ResourceType, name: str, namespace: str | None = None) -> Obj:
        self.calls.append(("get", rt.plural, name))
        found = self.objects.get(self._key(rt, name, namespace))
        if found is None:
            raise errors.NotFound(f"{rt.plural} {name!r} not found")
        return copy.deepcopy(found)

    async def create(self, rt: ResourceType, obj: Obj, namespace: str | None = None, **_: Any) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj["metadata"]
        meta.setdefault("namespace", namespace or "")
        if not meta.get("name"):
            meta["name"] = f"{meta['generateName']}{next(self._uid):05d}"
        self.calls.append(("create", rt.plural, meta["name"]))
        if self._key(rt, meta["name"], meta["namespace"]) in self.objects:
            raise errors.AlreadyExists(f"{rt.plural} {meta['name']!r} already exists")
        meta["uid"] = f"uid-{next(self._uid)}"
        meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        return self.put(rt, obj)

    async def replace_status(self, rt: ResourceType, obj: Obj) -> Obj:
        meta = obj["metadata"]
        self.calls.append(("status", rt.plural, meta["name"]))
        current = self.objects[self._key(rt, meta["name"], meta.get("namespace"))]
        if current["metadata"]["resourceVersion"] != meta.get("resourceVersion"):
            raise errors.Conflict("the object has been modified")
        self.status_writes.append(copy.deepcopy(obj["status"]))
        return self.put(rt, {**current, "status": copy.deepcopy(obj["status"])})

    async def patch(self, rt: ResourceType, name: str, patch: Obj, namespace: str | None = None, **_: Any) -> Obj:
        self.calls.append(("patch", rt.plural, name))
        current = self.objects.get(self._key(rt, name, namespace))
        if current is None:
            raise errors.NotFound(f"{rt.plural} {name!r} not found")
        meta = copy.deepcopy(current["metadata"])
        change = patch.get("metadata", {})
        for guard in ("uid", "resourceVersion"):
            if change.get(guard) and change[guard] != meta.get(guard):
                raise errors.Conflict(f"precondition on {guard} failed")
        drop = change.get("$deleteFromPrimitiveList/finalizers")
        if drop:
            meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f not in drop]
        for field in ("finalizers", "ownerReferences"):
            if field in change:
                meta[field] = change[field]
        return self.put(rt, {**current, "metadata": meta})

    async def delete(self, rt: ResourceType, name: str, namespace: str | None = None, **_: Any) -> Obj:
        self.calls.append(("delete", rt.plural, name))
        found = self.objects.pop(self._key(rt, name, namespace), None)
        if found is None:
            raise errors.NotFound(f"{rt.plural} {name!r} not found")
        return found


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []  # (object name, reason, message)

    async def record(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        self.events.append((obj["metadata"]["name"], reason, message))

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.events]


def context(**options: Any) -> tuple[ControllerContext, FakeClient, FakeRecorder]:
    client, recorder = FakeClient(), FakeRecorder()
    ctx = ControllerContext(client, InformerFactory(client), recorder, options=options)  # type: ignore[arg-type]
    return ctx, client, recorder


def cache(informer: Informer, *objs: Obj) -> None:
    """Put objects into an informer's cache as its watch would (handlers run)."""
    for obj in objs:
        informer._put(object_key(obj), copy.deepcopy(obj))


def sync_cache(informer: Informer, client: FakeClient) -> None:
    """Make an informer's cache equal the fake server's objects of its resource."""
    plural = informer.resource.plural
    fresh = {object_key(o): o for (p, _, _), o in client.objects.items() if p == plural}
    for key in [object_key(o) for o in informer.list() if object_key(o) not in fresh]:
        informer._remove(key)
    for obj in fresh.values():
        informer._put(object_key(obj), copy.deepcopy(obj))
