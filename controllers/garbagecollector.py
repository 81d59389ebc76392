"""Garbage collector: ownerReferences decide what outlives what.

Two jobs, both keyed by object uid:

* dependents: an object whose owners are all gone is deleted (background cascade); one that lost only
  some owners has the dangling references removed. "Gone" is confirmed with a live GET (uid compared), so
  a dependent seen before its brand-new owner reaches the cache is never deleted by mistake.
* owners being deleted with a GC finalizer: `orphan` removes the owner's reference from every dependent,
  then the finalizer; `foregroundDeletion` deletes the dependents (foreground too) and removes the
  finalizer only once none is left.

Every kind the apiserver serves is watched except Events, which own nothing and are owned by nothing.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

from controllers.base import Controller
from controllers.context import ControllerContext
from kube import errors
from kube.informer import Handler, Informer, object_key
from kube.resources import RESOURCES, ResourceType, by_kind

__all__ = ["GarbageCollector"]

Obj = dict[str, Any]

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
_SKIPPED = {"Event"}


class GarbageCollector(Controller):
    name: ClassVar[str] = "garbagecollector"
    workers: ClassVar[int] = 4
    resync_period: ClassVar[float] = 60.0

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.resources = [r for r in RESOURCES if r.kind not in _SKIPPED]
        self.watches = tuple(self.resources)  # type: ignore[misc]
        self.objects: dict[str, tuple[ResourceType, str]] = {}  # uid -> (resource, informer key)
        self.dependents: dict[str, set[str]] = {}  # owner uid -> dependent uids
        for resource in self.resources:
            informer = ctx.informers.informer(resource)
            informer.add_handler(Handler(
                on_add=lambda obj, r=resource: self._observe(r, obj),
                on_update=lambda old, new, r=resource: self._observe(r, new, old),
                on_delete=lambda obj, r=resource: self._forget(obj),
            ))

    # ------------------------------------------------------------------ graph

    def _observe(self, resource: ResourceType, obj: Obj, old: Obj | None = None) -> None:
        uid = obj["metadata"]["uid"]
        self.objects[uid] = (resource, object_key(obj))
        for ref in (old or {}).get("metadata", {}).get("ownerReferences") or []:
            self.dependents.get(ref["uid"], set()).discard(uid)
        for ref in obj["metadata"].get("ownerReferences") or []:
            self.dependents.setdefault(ref["uid"], set()).add(uid)
        if obj["metadata"].get("ownerReferences") or self._gc_finalizers(obj):
            self.queue.add(uid)

    def _forget(self, obj: Obj) -> None:
        uid = obj["metadata"]["uid"]
        self.objects.pop(uid, None)
        for ref in obj["metadata"].get("ownerReferences") or []:
            waiting = self.dependents.get(ref["uid"])
            if waiting is not None:
                waiting.discard(uid)
                self.queue.add(ref["uid"])  # an owner in foreground deletion may now be free to go
        for dependent in self.dependents.pop(uid, set()):
            self.queue.add(dependent)

    def initial_keys(self) -> list[str]:
        return list(self.objects)

    def _lookup(self, uid: str) -> tuple[ResourceType, Obj] | None:
        entry = self.objects.get(uid)
        if entry is None:
            return None
        resource, key = entry
        obj = self._informer(resource).get(key)
        if obj is None or obj["metadata"].get("uid") != uid:
            return None
        return resource, obj

    def _informer(self, resource: ResourceType) -> Informer:
        return self.ctx.informers.informer(resource)

    @staticmethod
    def _gc_finalizers(obj: Obj) -> set[str]:
        if not obj["metadata"].get("deletionTimestamp"):
            return set()
        return {ORPHAN, FOREGROUND} & set(obj["metadata"].get("finalizers") or [])

    # ------------------------------------------------------------------ reconcile

    async def sync(self, uid: str) -> None:
        found = self._lookup(uid)
        if found is None:
            return
        resource, obj = found
        finalizers = self._gc_finalizers(obj)
        if ORPHAN in finalizers:
            await self._orphan_dependents(resource, obj)
        elif FOREGROUND in finalizers:
            await self._delete_dependents(resource, obj)
        if obj["metadata"].get("ownerReferences"):
            await self._check_owners(resource, obj)

    async def _owner_state(self, namespace: str | None, ref: Obj) -> Obj | None:
        """The live owner named by `ref` (same uid), or None when it is gone or unknown to this cluster."""
        resource = by_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
        if resource is None:
            return {"unknown": True}  # a kind this apiserver does not serve: never treat it as gone
        key = f"{namespace}/{ref['name']}" if resource.namespaced and namespace else ref["name"]
        cached = self._informer(resource).get(key)
        if cached is not None and cached["metadata"].get("uid") == ref["uid"]:
            return cached
        try:
            live = await self.client.get(resource, ref["name"], namespace if resource.namespaced else None)
        except errors.NotFound:
            return None
        return live if live["metadata"].get("uid") == ref["uid"] else None

    async def _check_owners(self, resource: ResourceType, obj: Obj) -> None:
        meta = obj["metadata"]
        refs = meta.get("ownerReferences") or []
        states = [await self._owner_state(meta.get("namespace"), ref) for ref in refs]
        alive = [ref for ref, state in zip(refs, states, strict=True) if state is not None]
        if len(alive) == len(refs):
            foreground = [s for s in states if s and FOREGROUND in self._gc_finalizers(s)]
            if foreground and len(foreground) == len(states) and not meta.get("deletionTimestamp"):
                await self._delete(resource, obj, "Foreground")
            return
        if not alive:
            self.log.info("deleting %s %s: its owners are gone", resource.kind, object_key(obj))
            await self._delete(resource, obj, "Background")
            return
        await self._set_owner_refs(resource, obj, alive)

    async def _orphan_dependents(self, resource: ResourceType, owner: Obj) -> None:
        owner_uid = owner["metadata"]["uid"]
        for dep_uid in list(self.dependents.get(owner_uid, set())):
            found = self._lookup(dep_uid)
            if found is None:
                continue
            dep_resource, dep = found
            refs = [r for r in dep["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid]
            await self._set_owner_refs(dep_resource, dep, refs)
        await self._remove_finalizer(resource, owner, ORPHAN)

    async def _delete_dependents(self, resource: ResourceType, owner: Obj) -> None:
        owner_uid = owner["metadata"]["uid"]
        remaining = 0
        for dep_uid in list(self.dependents.get(owner_uid, set())):
            found = self._lookup(dep_uid)
            if found is None:
                continue
            remaining += 1
            dep_resource, dep = found
            if not dep["metadata"].get("deletionTimestamp"):
                await self._delete(dep_resource, dep, "Foreground")
        if remaining == 0:
            await self._remove_finalizer(resource, owner, FOREGROUND)

    # ------------------------------------------------------------------ writes

    async def _delete(self, resource: ResourceType, obj: Obj, policy: str) -> None:
        meta = obj["metadata"]
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.client.delete(resource, meta["name"], meta.get("namespace"), propagation_policy=policy,
                                     preconditions={"uid": meta["uid"]})

    async def _set_owner_refs(self, resource: ResourceType, obj: Obj, refs: list[Obj]) -> None:
        meta = obj["metadata"]
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.client.patch(resource, meta["name"], {"metadata": {"uid": meta["uid"], "ownerReferences": refs}},
                                    meta.get("namespace"), patch_type="merge")

    async def _remove_finalizer(self, resource: ResourceType, obj: Obj, finalizer: str) -> None:
        meta = obj["metadata"]
        remaining = [f for f in meta.get("finalizers") or [] if f != finalizer]
        patch = {"metadata": {"uid": meta["uid"], "resourceVersion": meta["resourceVersion"],
                              "finalizers": remaining}}
        with contextlib.suppress(errors.NotFound):
            await self.client.patch(resource, meta["name"], patch, meta.get("namespace"), patch_type="merge")
