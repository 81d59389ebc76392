"""Resource-quota controller: every ResourceQuota's status says what its namespace uses, as Kubernetes'
pkg/controller/resourcequota.

`status.hard` is the quota's `spec.hard`; `status.used` is recomputed from what exists (the informers' caches),
for each resource of `spec.hard` that an evaluator tracks (kube/quota.py, the same evaluators the ResourceQuota
admission plugin charges with). Level-triggered: a quota is synced when it is created, when its spec.hard
changes, when an object it may count is deleted or its usage changes (a pod reaching Succeeded or Failed, a
Service changing type), and every `resync_period` (Kubernetes' 5 minutes), so usage that deletions free, or that a
refused create charged, is given back. Creations are not watched for: admission has charged them already. The
status is written only when it differs, compare-and-swap on the cached quota's resourceVersion, so a write that
raced an admission charge fails and the quota is synced again from fresher caches.

Objects counted by `count/<resource>.<group>` are followed from the first quota that names them on.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any, ClassVar

from controllers.base import Controller
from controllers.context import ControllerContext
from kube import errors, quota
from kube.informer import Handler, Informer, object_key
from kube.resources import RESOURCES, ResourceType, by_plural

__all__ = ["ResourceQuotaController"]

Obj = dict[str, Any]

_found = by_plural("", "v1", "resourcequotas")
assert _found is not None
RESOURCEQUOTAS: ResourceType = _found
NAMESPACE_INDEX = "namespace"
SYNC_WAIT_SECONDS = 10.0


def _namespace_of(obj: Obj) -> list[str]:
    return [obj["metadata"].get("namespace", "")]


def _resource_type(group: str, plural: str) -> ResourceType | None:
    return next((r for r in RESOURCES if r.group == group and r.plural == plural), None)


class ResourceQuotaController(Controller):
    name: ClassVar[str] = "resourcequota"
    primary: ClassVar[ResourceType | None] = None  # quotas are wired below: their status writes must not wake us
    watches: ClassVar[tuple[ResourceType, ...]] = (RESOURCEQUOTAS,)
    resync_period: ClassVar[float] = 300.0

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.quotas = ctx.informers.informer(RESOURCEQUOTAS)
        self.quotas.add_indexer(NAMESPACE_INDEX, _namespace_of)
        self.quotas.add_handler(Handler(on_add=self.enqueue, on_update=self._quota_updated))
        self._followed: dict[tuple[str, str], Informer] = {}
        for evaluator in quota.core_evaluators():
            self._follow(evaluator)

    def initial_keys(self) -> list[str]:
        return [object_key(q) for q in self.quotas.list()]

    def _quota_updated(self, old: Obj, new: Obj) -> None:
        """Only spec.hard drives a sync: status changes are this controller's, or admission's charges."""
        if (old.get("spec") or {}).get("hard") != (new.get("spec") or {}).get("hard"):
            self.enqueue(new)

    def _follow(self, evaluator: quota.Evaluator) -> Informer | None:
        """The informer of what the evaluator counts (made at the first need), whose deletions and usage
        changes replenish the namespace's quotas."""
        key = (evaluator.group, evaluator.resource)
        if key in self._followed:
            return self._followed[key]
        rt = _resource_type(*key)
        if rt is None:
            return None  # not a kind this cluster serves: nothing to count
        informer = self.ctx.informers.informer(rt)
        informer.add_indexer(NAMESPACE_INDEX, _namespace_of)

        def updated(old: Obj, new: Obj) -> None:
            if not quota.equals(evaluator.usage(old), evaluator.usage(new)):
                self._replenish(new)

        informer.add_handler(Handler(on_update=updated, on_delete=self._replenish))
        self._followed[key] = informer
        return informer

    def _replenish(self, obj: Obj) -> None:
        namespace = obj["metadata"].get("namespace") or ""
        for q in self.quotas.by_index(NAMESPACE_INDEX, namespace):
            self.enqueue(q)

    async def sync(self, key: str) -> None:
        q = self.quotas.get(key)
        if q is None:
            return
        namespace = q["metadata"]["namespace"]
        spec_hard = dict((q.get("spec") or {}).get("hard") or {})
        evaluators: list[quota.Evaluator] = []
        for evaluator in quota.evaluators_for_hard(spec_hard):
            informer = self._follow(evaluator)
            if informer is None:
                continue
            if not informer.synced.is_set():
                try:
                    await asyncio.wait_for(informer.synced.wait(), SYNC_WAIT_SECONDS)
                except TimeoutError:
                    raise errors.ServiceUnavailable(f"{informer.resource.plural} not yet synced") from None
            evaluators.append(evaluator)

        def objects(evaluator: quota.Evaluator) -> list[Obj]:
            return self._followed[(evaluator.group, evaluator.resource)].by_index(NAMESPACE_INDEX, namespace)

        status = q.get("status") or {}
        old_used = quota.parse_list(status.get("used"))
        measured = quota.calculate_usage(q, evaluators, objects, datetime.now(UTC))
        used = quota.mask({**old_used, **measured}, spec_hard)  # what could not be measured keeps its value
        hard_changed = status.get("hard") is None or not quota.equals(quota.parse_list(status.get("hard")),
                                                                      quota.parse_list(spec_hard))
        if not hard_changed and status.get("used") is not None and quota.equals(used, old_used):
            return
        updated = json.loads(json.dumps(q))
        updated["status"] = {"hard": spec_hard, "used": quota.to_text(used)}
        try:
            await self.client.replace_status(RESOURCEQUOTAS, updated)
        except errors.NotFound:
            return  # deleted meanwhile
