"""The base of controllers that own pods through a selector (ReplicaSet, DaemonSet, StatefulSet).

Pod events are mapped to owner keys the way Kubernetes does it: a pod with a controller ownerReference
wakes that owner only; an orphan wakes every owner whose selector matches (which may adopt it). Creates and
deletes are counted against the owner's expectations, and an owner with minReadySeconds is looked at again
when a pod that just became ready turns available.
"""

from __future__ import annotations

from typing import Any

from controllers import podutil
from controllers.base import Controller, controller_of
from controllers.context import ControllerContext
from controllers.expectations import Expectations
from kube import errors, labels
from kube.informer import Handler, object_key
from kube.resources import PODS

__all__ = ["PodOwnerController"]

Obj = dict[str, Any]


class PodOwnerController(Controller):
    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.expectations = Expectations()
        self.pods = ctx.informers.informer(PODS)
        self.pods.add_indexer("namespace", lambda p: [p["metadata"].get("namespace", "")])
        self.pods.add_handler(Handler(on_add=self._pod_added, on_update=self._pod_updated,
                                      on_delete=self._pod_deleted))

    def may_own(self, owner: Obj, pod: Obj) -> bool:
        """Beyond the selector: whether `owner` could adopt this orphan (StatefulSets check the name)."""
        return True

    def owners_of(self, pod: Obj) -> list[str]:
        assert self.primary is not None
        key = self.owner_key(pod, self.primary.kind)
        if key is not None:
            return [key]
        if controller_of(pod) is not None:
            return []
        ns = pod["metadata"].get("namespace")
        pod_labels = pod["metadata"].get("labels") or {}
        found = []
        for owner in self.informer.list():
            selector = labels.from_label_selector(owner["spec"].get("selector"))
            if owner["metadata"].get("namespace") == ns and not selector.empty() and selector.matches(
                    pod_labels) and self.may_own(owner, pod):
                found.append(object_key(owner))
        return found

    def _pod_added(self, pod: Obj) -> None:
        for key in self.owners_of(pod):
            self.expectations.creation_observed(key)
            self.queue.add(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        for key in {*self.owners_of(old), *self.owners_of(new)}:
            if new["metadata"].get("deletionTimestamp") and not old["metadata"].get("deletionTimestamp"):
                self.expectations.deletion_observed(key, object_key(new))
            self.queue.add(key)
            if podutil.is_ready(new) and not podutil.is_ready(old):
                owner = self.informer.get(key)
                delay = ((owner or {}).get("spec") or {}).get("minReadySeconds") or 0
                if delay:  # becomes available minReadySeconds later: look again then
                    self.queue.add_after(key, delay + 0.5)

    async def delete_pod(self, key: str, owner: Obj, pod: Obj) -> None:
        """Delete one of `owner`'s pods (guarded by its uid), counting it against the owner's expectations
        at once when the delete did not happen, since no watch event will."""
        meta = pod["metadata"]
        try:
            await self.client.delete(PODS, meta["name"], meta["namespace"], preconditions={"uid": meta["uid"]})
        except errors.NotFound:
            self.expectations.deletion_observed(key, object_key(pod))
            return
        except errors.ApiError:
            self.expectations.deletion_observed(key, object_key(pod))
            raise
        await self.recorder.record(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}")

    def _pod_deleted(self, pod: Obj) -> None:
        for key in self.owners_of(pod):
            self.expectations.deletion_observed(key, object_key(pod))
            self.queue.add(key)
