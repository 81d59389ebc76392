"""ReplicaSet controller: keep exactly `spec.replicas` active pods matching the selector.

Adopts matching orphans, releases pods that stop matching, creates missing pods in slow-start batches
(1, 2, 4, ...: a template that cannot be created fails once, not 500 times), deletes surplus pods in the
order kube-controller-manager uses, and never acts twice on the same shortfall (expectations). Status:
replicas, fullyLabeledReplicas, readyReplicas, availableReplicas, observedGeneration, and the
ReplicaFailure condition when pods cannot be created.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from controllers import podutil
from controllers.claim import claim
from controllers.podowner import PodOwnerController
from kube import conditions as kconditions
from kube import timeutil
from kube.informer import object_key
from kube.resources import PODS, REPLICASETS, ResourceType

__all__ = ["ReplicaSetController"]

Obj = dict[str, Any]

BURST = 500  # most pods created or deleted in one sync


class ReplicaSetController(PodOwnerController):
    name: ClassVar[str] = "replicaset"
    primary: ClassVar[ResourceType] = REPLICASETS
    watches: ClassVar[tuple[ResourceType, ...]] = (PODS,)
    workers: ClassVar[int] = 4

    # ------------------------------------------------------------------ reconcile

    async def sync(self, key: str) -> None:
        rs = self.informer.get(key)
        if rs is None:
            self.expectations.forget(key)
            return
        namespace = rs["metadata"]["namespace"]
        candidates = [p for p in self.pods.by_index("namespace", namespace)
                      if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        owned = await claim(self.client, PODS, rs, rs["spec"].get("selector"), candidates)
        active = [p for p in owned if podutil.is_active(p)]
        failure: str | None = None
        if self.expectations.satisfied(key) and not rs["metadata"].get("deletionTimestamp"):
            failure = await self._manage(key, rs, active)
        await self._update_status(rs, owned, active, failure)

    async def _manage(self, key: str, rs: Obj, active: list[Obj]) -> str | None:
        wanted = int(rs["spec"].get("replicas", 1))
        diff = len(active) - wanted
        if diff < 0:
            return await self._create(key, rs, min(-diff, BURST))
        if diff > 0:
            victims = sorted(active, key=podutil.deletion_rank)[:min(diff, BURST)]
            self.expectations.expect_deletions(key, [object_key(p) for p in victims])
            await asyncio.gather(*(self.delete_pod(key, rs, p) for p in victims))
        return None

    async def _create(self, key: str, rs: Obj, count: int) -> str | None:
        """Create `count` pods in doubling batches; stop at the first batch with a failure."""
        self.expectations.expect_creations(key, count)
        template = rs["spec"].get("template") or {}
        created, batch = 0, 1
        while created < count:
            size = min(batch, count - created)
            results = await asyncio.gather(
                *(self.client.create(PODS, podutil.pod_from_template(template, rs)) for _ in range(size)),
                return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            created += size
            if failures:
                for _ in failures:
                    self.expectations.creation_failed(key)
                for _ in range(count - created):  # never attempted
                    self.expectations.creation_failed(key)
                message = str(failures[0])
                await self.recorder.record(rs, "Warning", "FailedCreate", f"Error creating: {message}")
                return message
            batch *= 2
        await self.recorder.record(rs, "Normal", "SuccessfulCreate", f"Created {count} pod(s)")
        return None

    async def _update_status(self, rs: Obj, owned: list[Obj], active: list[Obj], failure: str | None) -> None:
        template_labels = ((rs["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
        min_ready = int(rs["spec"].get("minReadySeconds") or 0)
        status: Obj = {
            "replicas": len(active),
            "fullyLabeledReplicas": sum(
                1 for p in active if all((p["metadata"].get("labels") or {}).get(k) == v
                                         for k, v in template_labels.items())),
            "readyReplicas": sum(1 for p in active if podutil.is_ready(p)),
            "availableReplicas": sum(1 for p in active if podutil.is_available(p, min_ready)),
            "terminatingReplicas": sum(1 for p in owned if p["metadata"].get("deletionTimestamp")),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        old = rs.get("status") or {}
        conditions = [c for c in old.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
        if failure:
            previous = kconditions.find(old.get("conditions"), "ReplicaFailure")
            conditions.append({"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                               "message": failure,
                               "lastTransitionTime": kconditions.transition_time(previous, "True", timeutil.now())})
        if conditions:
            status["conditions"] = conditions
        for zero in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas", "terminatingReplicas"):
            if not status[zero]:
                del status[zero]  # omitempty, as Kubernetes prints it
        if status == old:
            return
        # A PUT carrying the resourceVersion we read: a newer spec makes it fail (Conflict) and requeue.
        await self.client.replace_status(REPLICASETS, {**rs, "status": status})
