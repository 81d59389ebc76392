"""In-process informers: the apiserver following its own resources through its watch caches.

Authorizers and admission plugins decide from memory (RBAC objects, which pods run on which node), as
Kubernetes' do from shared informers; here the source is the Registry's watch, so nothing goes over HTTP or
to etcd per request. A handler gets each (re)list whole (`replace`: never an empty moment in between, in which
a request would be refused), then each event in order; `synced` is set once the first list has been delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from apiserver.params import ListOptions
from kube.resources import ResourceType

if TYPE_CHECKING:
    from apiserver.rest import Registry

__all__ = ["Handler", "LocalInformer"]

log = logging.getLogger("apiserver.localinformer")

_INITIAL_END = "k8s.io/initial-events-end"
_RETRY_SECONDS = (0.1, 0.5, 1.0, 2.0)


class Handler(Protocol):
    def replace(self, rt: ResourceType, objs: list[dict[str, Any]]) -> None: ...

    def apply(self, rt: ResourceType, event_type: str, obj: dict[str, Any]) -> None: ...


class LocalInformer:
    def __init__(self, registry: Registry, resources: Sequence[ResourceType], handler: Handler,
                 namespace: str | None = None) -> None:
        self.registry = registry
        self.namespace = namespace
        self.resources = list(resources)
        self.handler = handler
        self._synced = {rt: asyncio.Event() for rt in self.resources}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._follow(rt), name=f"informer-{rt.plural}") for rt in self.resources]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def synced(self) -> bool:
        return all(event.is_set() for event in self._synced.values())

    async def wait_synced(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in self._synced.values())), timeout)
        return self.synced

    async def _follow(self, rt: ResourceType) -> None:
        failures = 0
        while True:
            try:
                options = ListOptions(watch=True, send_initial_events=True, allow_bookmarks=True,
                                      resource_version_match="NotOlderThan")
                initial: list[dict[str, Any]] | None = []
                async for event in self.registry.watch(rt, self.namespace, options, bookmark_interval=60.0):
                    if event["type"] == "BOOKMARK":
                        if initial is not None and (event["object"]["metadata"].get("annotations") or {}).get(
                                _INITIAL_END):
                            self.handler.replace(rt, initial)
                            initial = None
                            self._synced[rt].set()
                            failures = 0
                        continue
                    if initial is not None:
                        initial.append(event["object"])
                    else:
                        self.handler.apply(rt, event["type"], event["object"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # etcd away, a compacted revision: relist after a pause
                log.warning("following %s failed (%r); relisting", rt.plural, exc)
            await asyncio.sleep(_RETRY_SECONDS[min(failures, len(_RETRY_SECONDS) - 1)])
            failures += 1
