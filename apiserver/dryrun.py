"""Server-side dry run (`?dryRun=All`): the storage every write goes through, minus the writing.

As Kubernetes' registry does (generic/registry/dryrun.go), a dry-run request runs the whole pipeline
against this wrapper: reads are real, so existence, preconditions and compare-and-swap conflicts are
checked as for a real write, but creates, updates and deletes return what would be stored and leave
etcd untouched. Allocators (ClusterIPs, NodePorts) write through the same interface, so they find a
free value without taking it, and no watcher sees anything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from apiserver.storage import EtcdStorage, ListPage, StoredEvent, same_object
from kube import errors, fastjson

__all__ = ["DryRunStorage"]

Obj = dict[str, Any]


class DryRunStorage:
    def __init__(self, storage: EtcdStorage) -> None:
        self.real = storage
        self.endpoint = storage.endpoint
        self.key = storage.key
        self.prefix = storage.prefix

    async def revision(self) -> int:
        return await self.real.revision()

    async def get(self, key: str) -> Obj | None:
        return await self.real.get(key)

    async def list(self, prefix: str, *, revision: int | None = None, limit: int = 0,
                   start: bytes | None = None) -> ListPage:
        return await self.real.list(prefix, revision=revision, limit=limit, start=start)

    async def create(self, key: str, obj: Obj) -> Obj:
        if await self.real.get(key) is not None:
            raise errors.AlreadyExists(f"{key} already exists")
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "resourceVersion"}
        return {**obj, "metadata": meta}  # never stored: no resourceVersion, as Kubernetes answers

    async def update(self, key: str, obj: Obj, expected_revision: int) -> Obj:
        current = await self.real.get(key)
        if current is None or int(current["metadata"]["resourceVersion"]) != expected_revision:
            raise errors.Conflict("stale resourceVersion")
        return {**obj, "metadata": {**obj.get("metadata", {}), "resourceVersion": str(expected_revision)}}

    async def delete(self, key: str, expected_revision: int) -> int:
        current = await self.real.get(key)
        if current is None or int(current["metadata"]["resourceVersion"]) != expected_revision:
            raise errors.Conflict("stale resourceVersion")
        return expected_revision

    async def guaranteed_update(self, key: str, mutate: Callable[[Obj], Awaitable[Obj | None]],
                                retries: int = 16) -> Obj:
        current = await self.real.get(key)
        if current is None:
            raise errors.NotFound(f"{key} not found")
        updated = await mutate(fastjson.copy(current))
        if updated is None or same_object(updated, current):
            return current
        return await self.update(key, updated, int(current["metadata"]["resourceVersion"]))

    def watch(self, prefix: str, start_revision: int) -> AsyncIterator[StoredEvent]:
        return self.real.watch(prefix, start_revision)
