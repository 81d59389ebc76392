"""Informer: list, then watch from the list's resourceVersion, keeping a local cache with indexes.

Re-lists on 410 Gone, reconnects with back-off on errors, and calls handlers (which should only compute and
enqueue a key) on every add, update and delete. `synced` is set once the first list is in the cache.
Objects in the cache are shared: callers copy before they mutate.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kube import errors
from kube.client.rest import ApiClient
from kube.resources import ResourceType

__all__ = ["Handler", "Informer", "object_key"]

log = logging.getLogger("kube.informer")

Obj = dict[str, Any]


def object_key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else meta["name"]


@dataclass
class Handler:
    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj], None] | None = None


class Informer:
    def __init__(
        self,
        client: ApiClient,
        resource: ResourceType,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        min_backoff: float = 0.2,
        max_backoff: float = 10.0,
        watch_timeout: tuple[int, int] = (240, 360),
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.synced = asyncio.Event()
        self.resource_version: str | None = None
        self._store: dict[str, Obj] = {}
        self._handlers: list[Handler] = []
        self._indexers: dict[str, Callable[[Obj], list[str]]] = {}
        self._indices: dict[str, dict[str, set[str]]] = {}
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._watch_timeout = watch_timeout

    # ------------------------------------------------------------------ reading

    def get(self, key: str) -> Obj | None:
        return self._store.get(key)

    def list(self) -> list[Obj]:
        return list(self._store.values())

    def keys(self) -> builtins.list[str]:
        return list(self._store)

    def add_indexer(self, name: str, fn: Callable[[Obj], builtins.list[str]]) -> None:
        self._indexers[name] = fn
        self._indices[name] = {}
        for key, obj in self._store.items():
            self._index(key, obj)

    def by_index(self, name: str, value: str) -> builtins.list[Obj]:
        return [self._store[k] for k in self._indices[name].get(value, ()) if k in self._store]

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Run until cancelled."""
        delay = self._min_backoff
        while True:
            try:
                if self.resource_version is None:
                    await self._relist()
                await self._watch()
                delay = self._min_backoff
            except errors.Gone:
                log.info("watch of %s expired at %s, re-listing", self.resource.plural, self.resource_version)
                self.resource_version = None
            except errors.ApiError as exc:
                log.warning("informer %s: %s; retrying in %.1fs", self.resource.plural, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)

    async def _relist(self) -> None:
        listed = await self.client.list(
            self.resource, self.namespace,
            label_selector=self.label_selector, field_selector=self.field_selector,
        )
        fresh = {object_key(item): item for item in listed.get("items") or []}
        for item in fresh.values():
            item.setdefault("kind", self.resource.kind)
            item.setdefault("apiVersion", self.resource.api_version)
        old_store = self._store
        for key in [k for k in old_store if k not in fresh]:
            self._remove(key)
        for key, obj in fresh.items():
            self._put(key, obj)
        self.resource_version = listed["metadata"]["resourceVersion"]
        self.synced.set()

    async def _watch(self) -> None:
        timeout = random.randint(*self._watch_timeout)
        async for kind, obj in self.client.watch(
            self.resource, self.namespace, resource_version=self.resource_version,
            label_selector=self.label_selector, field_selector=self.field_selector, timeout_seconds=timeout,
        ):
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if kind == "BOOKMARK":
                self.resource_version = rv or self.resource_version
                continue
            key = object_key(obj)
            if kind == "DELETED":
                self._remove(key, obj)
            else:
                self._put(key, obj)
            if rv:
                self.resource_version = rv

    # ------------------------------------------------------------------ cache updates

    def _put(self, key: str, obj: Obj) -> None:
        old = self._store.get(key)
        if old is not None and old.get("metadata", {}).get("resourceVersion") == obj["metadata"].get(
            "resourceVersion"
        ):
            return
        self._unindex(key, old)
        self._store[key] = obj
        self._index(key, obj)
        for h in self._handlers:
            if old is None and h.on_add:
                _safely(h.on_add, obj)
            elif old is not None and h.on_update:
                _safely(h.on_update, old, obj)

    def _remove(self, key: str, final: Obj | None = None) -> None:
        old = self._store.pop(key, None)
        if old is None:
            return
        self._unindex(key, old)
        for h in self._handlers:
            if h.on_delete:
                _safely(h.on_delete, final or old)

    def _index(self, key: str, obj: Obj) -> None:
        for name, fn in self._indexers.items():
            for value in fn(obj):
                self._indices[name].setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: Obj | None) -> None:
        if obj is None:
            return
        for name, fn in self._indexers.items():
            for value in fn(obj):
                keys = self._indices[name].get(value)
                if keys:
                    keys.discard(key)


def _safely(fn: Callable[..., None], *args: Obj) -> None:
    try:
        fn(*args)
    except Exception:  # a handler bug must not kill the informer
        log.exception("informer handler failed")
