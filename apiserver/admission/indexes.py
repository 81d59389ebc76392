"""What admission plugins look up per request, kept in memory: the objects of one resource by namespace.

Fed by a LocalInformer (the apiserver's own watch caches) and by this apiserver's committed writes (`observe`),
the newest resourceVersion winning. When the index holds nothing for a namespace, the objects are read from
etcd and the answer kept for `live_ttl` seconds, as Kubernetes' LimitRanger and ResourceQuota plugins do with
their live-lookup LRU: an object just created through another apiserver (or not yet delivered by the watch) is
still found, and a namespace without any costs one etcd read per `live_ttl`, not one per request. Any event
for a namespace drops its live answer.

Neighbours: apiserver/localinformer.py (the feed), limitranger.py and resourcequota.py (the users).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from apiserver.localinformer import LocalInformer
from kube.resources import ResourceType

if TYPE_CHECKING:
    from apiserver.rest import Registry

__all__ = ["NamespacedIndex"]

Obj = dict[str, Any]


def _revision(obj: Obj) -> int:
    return int(obj["metadata"].get("resourceVersion") or 0)


class NamespacedIndex:
    def __init__(self, resource: ResourceType, live_ttl: float = 30.0) -> None:
        self.resource = resource
        self.live_ttl = live_ttl
        self._by_namespace: dict[str, dict[str, Obj]] = {}
        self._live: dict[str, tuple[float, list[Obj]]] = {}
        self._registry: Registry | None = None
        self._informer: LocalInformer | None = None

    async def start(self, registry: Registry) -> None:
        self._registry = registry
        self._informer = LocalInformer(registry, [self.resource], self)
        self._informer.start()

    async def stop(self) -> None:
        if self._informer is not None:
            await self._informer.stop()

    @property
    def synced(self) -> bool:
        return self._informer is not None and self._informer.synced

    # ------------------------------------------------------------------ the feed (LocalInformer's Handler)

    def replace(self, rt: ResourceType, objs: list[Obj]) -> None:
        """A (re)list, whole; of a listed object, a newer version this apiserver wrote meanwhile is kept."""
        previous = self._by_namespace
        self._by_namespace = {}
        self._live.clear()
        for obj in objs:
            self.observe(obj)
            meta = obj["metadata"]
            held = previous.get(meta.get("namespace") or "", {}).get(meta["name"])
            if held is not None:
                self.observe(held)  # the newer of the two stays

    def apply(self, rt: ResourceType, event_type: str, obj: Obj) -> None:
        meta = obj["metadata"]
        namespace, name = meta.get("namespace") or "", meta["name"]
        self._live.pop(namespace, None)
        held = self._by_namespace.setdefault(namespace, {})
        if event_type == "DELETED":
            if name in held and _revision(held[name]) <= _revision(obj):
                del held[name]
            if not held:
                self._by_namespace.pop(namespace, None)
            return
        self.observe(obj)

    def observe(self, obj: Obj) -> None:
        """Record a stored object unless a newer version of it is held."""
        meta = obj["metadata"]
        held = self._by_namespace.setdefault(meta.get("namespace") or "", {})
        current = held.get(meta["name"])
        if current is None or _revision(current) <= _revision(obj):
            held[meta["name"]] = obj

    # ------------------------------------------------------------------ reads

    async def in_namespace(self, namespace: str) -> list[Obj]:
        """The namespace's objects (shared: never mutate them)."""
        held = self._by_namespace.get(namespace)
        if held:
            return list(held.values())
        now = time.monotonic()
        live = self._live.get(namespace)
        if live is not None and live[0] > now:
            return live[1]
        if self._registry is None:
            return []
        storage = self._registry.storage
        page = await storage.list(storage.prefix(self.resource.plural, namespace))
        self._live[namespace] = (now + self.live_ttl, page.items)
        return page.items
