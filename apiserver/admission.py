"""Admission checks that run before an object is stored (after decoding and validation).

NamespaceLifecycle: objects go only into namespaces that exist and are not terminating. Namespaces are
looked up in a local index kept fresh by the namespaces watch cache, falling back to etcd on a miss (a
namespace just created through another apiserver), so a create costs no extra etcd read. Namespace writes
made by this apiserver are recorded at once (`observe`), so a delete followed at once by a create in that
namespace is refused even before the watch event arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from kube import errors
from kube.resources import NAMESPACES, ResourceType

if TYPE_CHECKING:
    from apiserver.rest import Registry

__all__ = ["NamespaceIndex", "add_default_tolerations"]

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"


def add_default_tolerations(pod: dict[str, Any], not_ready_seconds: int, unreachable_seconds: int) -> None:
    """DefaultTolerationSeconds: every pod tolerates a not-ready or unreachable node for a while (300 s by
    default) before the node lifecycle controller evicts it, unless it says otherwise."""
    tolerations = pod["spec"].setdefault("tolerations", [])
    for key, seconds in ((NOT_READY_TAINT, not_ready_seconds), (UNREACHABLE_TAINT, unreachable_seconds)):
        if any(t.get("key") == key and t.get("effect") in (None, "", "NoExecute") for t in tolerations) or any(
                not t.get("key") and t.get("operator") == "Exists" and t.get("effect") in (None, "", "NoExecute")
                for t in tolerations):
            continue
        tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds})

log = logging.getLogger("apiserver.admission")


class NamespaceIndex:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.known: dict[str, dict[str, Any]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="namespace-index")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self) -> None:
        from apiserver.rest import ListOptions

        while True:
            try:
                async for event in self.registry.watch(NAMESPACES, None, ListOptions()):
                    if event["type"] == "DELETED":
                        self.known.pop(event["object"]["metadata"]["name"], None)
                    else:
                        self.observe(event["object"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("namespace index watch failed (%s); restarting", exc)
            self.known.clear()
            await asyncio.sleep(0.5)

    def observe(self, namespace: dict[str, Any]) -> None:
        """Record a namespace as stored, unless the index already holds a newer version of it."""
        name = namespace["metadata"]["name"]
        held = self.known.get(name)
        if held is None or int(held["metadata"]["resourceVersion"]) <= int(namespace["metadata"]["resourceVersion"]):
            self.known[name] = namespace

    async def check(self, rt: ResourceType, namespace: str) -> None:
        ns = self.known.get(namespace)
        if ns is None:
            storage = self.registry.storage
            ns = await storage.get(storage.key(NAMESPACES.plural, None, namespace))
        if ns is None:
            raise errors.NotFound(f'namespaces "{namespace}" not found', name=namespace, kind="namespaces")
        if (ns.get("status") or {}).get("phase") == "Terminating" or ns["metadata"].get("deletionTimestamp"):
            raise errors.Forbidden(
                f'{rt.plural} is forbidden: unable to create new content in namespace {namespace} '
                "because it is being terminated",
                kind=rt.plural,
            )
