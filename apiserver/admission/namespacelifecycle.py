"""NamespaceLifecycle: objects go only into namespaces that exist and are not terminating.

Namespaces are looked up in a local index kept fresh by the namespaces watch, falling back to etcd on a
miss (a namespace just created through another apiserver), so a create costs no extra etcd read. This
apiserver's own namespace writes are recorded at once (`observe`), so a delete followed at once by a
create in that namespace is refused even before the watch event arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from apiserver.admission.chain import Attributes, Plugin
from apiserver.params import ListOptions
from kube import errors
from kube.resources import NAMESPACES, ResourceType

if TYPE_CHECKING:
    from apiserver.rest import Registry

__all__ = ["NamespaceLifecycle"]

log = logging.getLogger("apiserver.admission")


class NamespaceLifecycle(Plugin):
    name = "NamespaceLifecycle"

    def __init__(self) -> None:
        self.known: dict[str, dict[str, Any]] = {}
        self._registry: Registry | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, registry: Registry) -> None:
        self._registry = registry
        self._task = asyncio.create_task(self._follow(registry), name="namespace-index")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self, registry: Registry) -> None:
        while True:
            try:
                async for event in registry.watch(NAMESPACES, None, ListOptions(watch=True)):
                    if event["type"] == "DELETED":
                        self.known.pop(event["object"]["metadata"]["name"], None)
                    else:
                        self.observe(NAMESPACES, event["object"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("namespace index watch failed (%s); restarting", exc)
            self.known.clear()
            await asyncio.sleep(0.5)

    def observe(self, resource: ResourceType, stored: dict[str, Any]) -> None:
        """Record a namespace as stored, unless the index already holds a newer version of it."""
        if resource is not NAMESPACES:
            return
        name = stored["metadata"]["name"]
        held = self.known.get(name)
        if held is None or int(held["metadata"]["resourceVersion"]) <= int(stored["metadata"]["resourceVersion"]):
            self.known[name] = stored

    async def validate(self, attrs: Attributes) -> None:
        if attrs.operation != "CREATE" or not attrs.resource.namespaced or not attrs.namespace:
            return
        namespace = attrs.namespace
        ns = self.known.get(namespace)
        if ns is None and self._registry is not None:
            storage = self._registry.storage
            ns = await storage.get(storage.key(NAMESPACES.plural, None, namespace))
        if ns is None:
            raise errors.NotFound(f'namespaces "{namespace}" not found', name=namespace, kind="namespaces")
        if (ns.get("status") or {}).get("phase") == "Terminating" or ns["metadata"].get("deletionTimestamp"):
            raise errors.Forbidden(
                f'{attrs.resource.plural} "{attrs.name}" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated",
                name=attrs.name, kind=attrs.resource.plural,
            )
