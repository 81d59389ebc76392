"""Namespace controller: a deleted namespace is emptied, then released.

For a namespace being deleted whose spec still holds the `kubernetes` finalizer, delete the contents of
every namespaced resource type (live lists, not caches: nothing may be missed), wait until all of it is
gone (pods wait for their kubelets), and then drop the finalizer through `namespaces/{name}/finalize`,
which lets the apiserver remove the namespace. Progress is reported in status conditions, as Kubernetes
does (NamespaceContentRemaining, NamespaceDeletionContentFailure).
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

from controllers.base import Controller
from kube import conditions as kconditions
from kube import errors, timeutil
from kube.resources import NAMESPACES, RESOURCES, ResourceType

__all__ = ["NamespaceController"]

Obj = dict[str, Any]

FINALIZER = "kubernetes"
RECHECK_SECONDS = 2.0


class NamespaceController(Controller):
    name: ClassVar[str] = "namespace"
    primary: ClassVar[ResourceType | None] = NAMESPACES
    workers: ClassVar[int] = 2

    async def sync(self, key: str) -> None:
        ns = self.informer.get(key)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return
        remaining, failures = await self._delete_contents(key)
        if remaining or failures:
            await self._report(ns, remaining, failures)
            self.queue.add_after(key, RECHECK_SECONDS)
            return
        spec = {**ns.get("spec", {}), "finalizers": [f for f in ns["spec"]["finalizers"] if f != FINALIZER]}
        try:
            await self.client.replace(NAMESPACES, {**ns, "spec": spec}, "finalize")
        except errors.NotFound:
            return
        self.log.info("namespace %s emptied and finalized", key)

    async def _delete_contents(self, namespace: str) -> tuple[dict[str, int], list[str]]:
        remaining: dict[str, int] = {}
        failures: list[str] = []
        for resource in RESOURCES:
            if not resource.namespaced or "delete" not in resource.verbs:
                continue
            try:
                items = (await self.client.list(resource, namespace))["items"]
            except errors.ApiError as exc:
                failures.append(f"{resource.qualified}: {exc}")
                continue
            for item in items:
                remaining[resource.qualified] = remaining.get(resource.qualified, 0) + 1
                if item["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    await self.client.delete(resource, item["metadata"]["name"], namespace,
                                             propagation_policy="Background")
                except errors.NotFound:
                    pass
                except errors.ApiError as exc:
                    failures.append(f"{resource.qualified}/{item['metadata']['name']}: {exc}")
        return remaining, failures

    async def _report(self, ns: Obj, remaining: dict[str, int], failures: list[str]) -> None:
        now = timeutil.now()
        conditions = [
            {"type": "NamespaceContentRemaining", "status": "True" if remaining else "False",
             "reason": "SomeResourcesRemain" if remaining else "ContentRemoved",
             "message": "Some resources are remaining: " + ", ".join(
                 f"{name} has {count} resource instances" for name, count in sorted(remaining.items()))
             if remaining else "All content successfully removed"},
            {"type": "NamespaceDeletionContentFailure", "status": "True" if failures else "False",
             "reason": "ContentDeletionFailed" if failures else "ContentDeleted",
             "message": "; ".join(failures[:5]) if failures else "All content successfully deleted, may be "
                                                                 "waiting on finalization"},
        ]
        old = {c["type"]: c for c in (ns.get("status") or {}).get("conditions") or []}
        for condition in conditions:
            condition["lastTransitionTime"] = kconditions.transition_time(old.get(condition["type"]),
                                                                          condition["status"], now)
        if [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in conditions] == [
                {k: v for k, v in old.get(c["type"], {}).items() if k != "lastTransitionTime"} for c in conditions]:
            return
        status = {**(ns.get("status") or {}), "phase": "Terminating", "conditions": conditions}
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.client.replace_status(NAMESPACES, {**ns, "status": status})
