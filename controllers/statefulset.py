"""StatefulSet controller: pods with stable names, hostnames and storage, created, replaced and removed in
ordinal order (Kubernetes' `pkg/controller/statefulset`).

Pod `NAME-i` (i from `spec.ordinals.start`) has hostname `NAME-i`, subdomain `spec.serviceName`, the labels
`statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index` and `controller-revision-hash` (the
name of the ControllerRevision it was made from), and for each volumeClaimTemplate a PersistentVolumeClaim
`<template>-NAME-i`, created before the pod and mounted in place of the template volume of that name.
Claims outlive their pods unless `persistentVolumeClaimRetentionPolicy` says Delete: then the claim gets
the StatefulSet (whenDeleted) or its scaled-down pod (whenScaled) as owner, and the garbage collector
removes it after them.

OrderedReady creates ordinal i only when 0..i-1 are Running and Ready (and available for minReadySeconds)
and removes the highest ordinal first, one at a time, waiting for each to go; Parallel does both at
once. A failed (or succeeded) pod is deleted and recreated under the same name. RollingUpdate deletes
the highest-ordinal pod not at the update revision, down to `partition`, one at a time, each only once
all above it are healthy again; OnDelete waits for someone else to delete. The plan is a pure function
(`plan`) of the set, its pods and the two revisions; `StatefulSetController` carries it out.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from controllers import podutil, revisions
from controllers.claim import claim
from controllers.context import ControllerContext
from controllers.podowner import PodOwnerController
from kube import errors
from kube.informer import Handler, object_key
from kube.resources import CONTROLLERREVISIONS, PERSISTENTVOLUMECLAIMS, PODS, STATEFULSETS, ResourceType

__all__ = [
    "POD_INDEX_LABEL", "POD_NAME_LABEL", "Action", "StatefulSetController", "claim_name", "claim_owner_refs",
    "compute_status", "new_claims", "new_pod", "parent_and_ordinal", "plan",
]

Obj = dict[str, Any]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


# ---------------------------------------------------------------------- identity and storage


def parent_and_ordinal(name: str) -> tuple[str, int]:
    """("web", 2) for "web-2"; ("", -1) for a name that is not a StatefulSet pod's."""
    match = _ORDINAL.match(name)
    return (match.group(1), int(match.group(2))) if match else ("", -1)


def is_member(sts: Obj, pod: Obj) -> bool:
    return parent_and_ordinal(pod["metadata"]["name"])[0] == sts["metadata"]["name"]


def start_ordinal(sts: Obj) -> int:
    return int(((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def replica_ordinals(sts: Obj) -> range:
    start = start_ordinal(sts)
    return range(start, start + int((sts.get("spec") or {}).get("replicas", 1)))


def claim_name(template_name: str, sts_name: str, ordinal: int) -> str:
    return f"{template_name}-{sts_name}-{ordinal}"


def new_claims(sts: Obj, ordinal: int) -> dict[str, Obj]:
    """The claims of ordinal `ordinal`, by template name: the template with the selector's labels added."""
    meta = sts["metadata"]
    match_labels = ((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    claims: dict[str, Obj] = {}
    for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
        tmeta = template.get("metadata") or {}
        body: Obj = {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim_name(tmeta["name"], meta["name"], ordinal), "namespace": meta["namespace"],
                         "labels": {**(tmeta.get("labels") or {}), **match_labels}},
            "spec": copy.deepcopy(template.get("spec") or {}),
        }
        if tmeta.get("annotations"):
            body["metadata"]["annotations"] = dict(tmeta["annotations"])
        claims[tmeta["name"]] = body
    return claims


def pod_volumes(sts: Obj, ordinal: int, volumes: list[Obj]) -> list[Obj]:
    """Kubernetes' updateStorage: a persistentVolumeClaim volume per claim template, replacing any template
    volume of the same name; the other volumes kept after them."""
    claims = new_claims(sts, ordinal)
    result = [{"name": name, "persistentVolumeClaim": {"claimName": c["metadata"]["name"]}}
              for name, c in claims.items()]
    return result + [v for v in volumes if v.get("name") not in claims]


def new_pod(sts: Obj, template: Obj, revision_name: str, ordinal: int) -> Obj:
    """Pod `NAME-ordinal` from `template` (the template of revision `revision_name`)."""
    name = f"{sts['metadata']['name']}-{ordinal}"
    pod = podutil.pod_from_template(template, sts, name=name)
    pod["metadata"]["labels"] = {**pod["metadata"]["labels"], POD_NAME_LABEL: name,
                                 POD_INDEX_LABEL: str(ordinal), revisions.HASH_LABEL: revision_name}
    spec = pod["spec"]
    spec["hostname"] = name
    if sts["spec"].get("serviceName"):
        spec["subdomain"] = sts["spec"]["serviceName"]
    spec["volumes"] = pod_volumes(sts, ordinal, spec.get("volumes") or [])
    return pod


def identity_matches(sts: Obj, pod: Obj) -> bool:
    parent, ordinal = parent_and_ordinal(pod["metadata"]["name"])
    pod_labels = pod["metadata"].get("labels") or {}
    return (parent == sts["metadata"]["name"] and pod["metadata"].get("namespace") == sts["metadata"]["namespace"]
            and pod_labels.get(POD_NAME_LABEL) == pod["metadata"]["name"]
            and pod_labels.get(POD_INDEX_LABEL) == str(ordinal))


def _revision(pod: Obj) -> str:
    return (pod["metadata"].get("labels") or {}).get(revisions.HASH_LABEL, "")


# ---------------------------------------------------------------------- pod states


def _created(pod: Obj) -> bool:
    return bool(pod["metadata"].get("uid"))  # a planned pod has no uid yet


def _terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def _phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase") or "Pending"


def _running_and_ready(pod: Obj) -> bool:
    return _phase(pod) == "Running" and podutil.is_ready(pod)


def _running_and_available(pod: Obj, min_ready: int, now: datetime | None) -> bool:
    return _phase(pod) == "Running" and podutil.is_available(pod, min_ready, now)


def _unavailable(pod: Obj, min_ready: int, now: datetime | None) -> bool:
    return not _created(pod) or _terminating(pod) or not _running_and_available(pod, min_ready, now)


# ---------------------------------------------------------------------- the plan


@dataclass
class Action:
    """One step: `create` ordinal (at `revision`), `delete` pod (why: failed, scale-down, update), `fix` a
    pod's identity labels, or `claims` (make the missing claims of a pending pod)."""

    kind: str
    ordinal: int
    pod: Obj | None = None
    revision: str = ""
    reason: str = ""


def _partition(sts: Obj) -> int:
    strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
    return int((strategy.get("rollingUpdate") or {}).get("partition") or 0)


def _strategy(sts: Obj) -> str:
    return ((sts.get("spec") or {}).get("updateStrategy") or {}).get("type", "RollingUpdate")


def plan(sts: Obj, pods: list[Obj], current: str, update: str, now: datetime | None = None) -> list[Action]:
    """Kubernetes' updateStatefulSet as a list of actions. `pods` are the set's members; `current` and
    `update` the names of the current and update revisions. OrderedReady stops at the first thing it must
    wait for; Parallel goes on."""
    spec = sts.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    monotonic = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
    ordinals = replica_ordinals(sts)
    replicas: dict[int, Obj | None] = dict.fromkeys(ordinals)
    condemned: list[Obj] = []
    for pod in pods:
        ordinal = parent_and_ordinal(pod["metadata"]["name"])[1]
        if ordinal in replicas:
            replicas[ordinal] = pod
        elif ordinal >= 0:
            condemned.append(pod)
    condemned.sort(key=lambda p: parent_and_ordinal(p["metadata"]["name"])[1], reverse=True)
    if sts["metadata"].get("deletionTimestamp"):
        return []
    # The first unhealthy pod, replicas before condemned (lowest ordinal first); a missing replica counts.
    unhealthy = [p for p in replicas.values() if p is None or _unavailable(p, min_ready, now)]
    unhealthy += [p for p in reversed(condemned) if _unavailable(p, min_ready, now)]
    first_unhealthy = unhealthy[0] if unhealthy else None
    actions: list[Action] = []
    rolling = _strategy(sts) == "RollingUpdate"
    partition = _partition(sts)

    for ordinal, pod in replicas.items():
        if pod is None:
            revision = current if rolling and ordinal < partition else update
            actions.append(Action("create", ordinal, revision=revision))
            if monotonic:
                return actions
            continue
        if _phase(pod) in ("Failed", "Succeeded"):
            if not _terminating(pod):
                actions.append(Action("delete", ordinal, pod, reason="failed"))
            if monotonic:
                return actions
            continue  # recreated once it is gone
        if _phase(pod) == "Pending" and not _terminating(pod):
            actions.append(Action("claims", ordinal, pod))
        if monotonic and (_terminating(pod) or not _running_and_ready(pod)
                          or not _running_and_available(pod, min_ready, now)):
            return actions
        if not identity_matches(sts, pod):
            actions.append(Action("fix", ordinal, pod))

    for pod in condemned:
        ordinal = parent_and_ordinal(pod["metadata"]["name"])[1]
        if _terminating(pod):
            if monotonic:
                return actions
            continue
        if monotonic and pod is not first_unhealthy and _unavailable(pod, min_ready, now):
            return actions
        actions.append(Action("delete", ordinal, pod, reason="scale-down"))
        if monotonic:
            return actions

    if not rolling:
        return actions  # OnDelete: a pod is replaced only once someone deletes it
    for ordinal in reversed(ordinals):
        if ordinal - ordinals.start < partition:
            break
        pod = replicas[ordinal]
        if pod is None or not _created(pod):
            return actions
        if _revision(pod) != update and not _terminating(pod):
            actions.append(Action("delete", ordinal, pod, reason="update"))
            return actions
        if _unavailable(pod, min_ready, now):
            return actions
    return actions


def compute_status(sts: Obj, pods: list[Obj], current: str, update: str, collisions: int,
                   now: datetime | None = None) -> Obj:
    """Replica counts over the members (Kubernetes' computeReplicaStatus), revisions, and a finished rolling
    update folded in (completeRollingUpdate)."""
    min_ready = int((sts.get("spec") or {}).get("minReadySeconds") or 0)
    counts = {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0, "currentReplicas": 0,
              "updatedReplicas": 0}
    for pod in pods:
        counts["replicas"] += 1
        if _running_and_ready(pod):
            counts["readyReplicas"] += 1
            if _running_and_available(pod, min_ready, now):
                counts["availableReplicas"] += 1
        if not _terminating(pod):
            counts["currentReplicas"] += _revision(pod) == current
            counts["updatedReplicas"] += _revision(pod) == update
    status: Obj = {**counts, "observedGeneration": sts["metadata"].get("generation", 1),
                   "currentRevision": current, "updateRevision": update, "collisionCount": collisions}
    if (_strategy(sts) == "RollingUpdate" and status["updatedReplicas"] == status["replicas"]
            and status["readyReplicas"] == status["replicas"]):
        status["currentReplicas"] = status["updatedReplicas"]
        status["currentRevision"] = update
    for omitempty in ("readyReplicas", "currentReplicas", "updatedReplicas"):
        if not status[omitempty]:
            del status[omitempty]
    return status


def _ref(obj: Obj, api_version: str, kind: str) -> Obj:
    return {"apiVersion": api_version, "kind": kind, "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"]}


def claim_owner_refs(refs: list[Obj], sts: Obj, pod: Obj | None, condemned: bool) -> list[Obj]:
    """A claim's ownerReferences under the retention policy (Kubernetes' updateClaimOwnerRefForSetAndPod):
    the set owns it when whenDeleted=Delete, the pod owns it when whenScaled=Delete and the pod is scaled
    away (then the set lets go, so the claim goes with the pod)."""
    policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    delete_with_set = policy.get("whenDeleted") == "Delete"
    delete_when_scaled = policy.get("whenScaled") == "Delete"
    set_uid = sts["metadata"]["uid"]
    pod_uid = pod["metadata"].get("uid") if pod else None
    keep = [r for r in refs if r.get("uid") not in (set_uid, pod_uid)]
    want_set = delete_with_set and not (delete_when_scaled and condemned)
    want_pod = delete_when_scaled and condemned and bool(pod_uid)
    if want_set:
        keep.append(next((r for r in refs if r.get("uid") == set_uid), _ref(sts, "apps/v1", "StatefulSet")))
    if want_pod and pod is not None:
        keep.append(next((r for r in refs if r.get("uid") == pod_uid), _ref(pod, "v1", "Pod")))
    return keep


# ---------------------------------------------------------------------- the controller


class StatefulSetController(PodOwnerController):
    name: ClassVar[str] = "statefulset"
    primary: ClassVar[ResourceType] = STATEFULSETS
    watches: ClassVar[tuple[ResourceType, ...]] = (PODS, CONTROLLERREVISIONS, PERSISTENTVOLUMECLAIMS)
    workers: ClassVar[int] = 2

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.history = revisions.History(self.client)
        self.revisions = ctx.informers.informer(CONTROLLERREVISIONS)
        self.revisions.add_indexer("namespace", lambda r: [r["metadata"].get("namespace", "")])
        self.claims = ctx.informers.informer(PERSISTENTVOLUMECLAIMS)
        self.claims.add_handler(Handler(on_update=lambda old, new: self._claim_changed(new),
                                        on_delete=self._claim_changed))

    # ------------------------------------------------------------------ events -> keys

    def may_own(self, owner: Obj, pod: Obj) -> bool:
        return is_member(owner, pod)

    def _claim_changed(self, pvc: Obj) -> None:
        """A claim going away may unblock a pod waiting for its stale claim to be collected."""
        ns, name = pvc["metadata"].get("namespace"), pvc["metadata"]["name"]
        for sts in self.informer.list():
            if sts["metadata"].get("namespace") != ns:
                continue
            for template in sts["spec"].get("volumeClaimTemplates") or []:
                prefix = f"{(template.get('metadata') or {}).get('name')}-{sts['metadata']['name']}-"
                if name.startswith(prefix) and name[len(prefix):].isdigit():
                    self.enqueue(sts)

    # ------------------------------------------------------------------ reconcile

    async def sync(self, key: str) -> None:
        sts = self.informer.get(key)
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return  # the garbage collector removes the pods
        namespace = sts["metadata"]["namespace"]
        candidates = [p for p in self.pods.by_index("namespace", namespace) if is_member(sts, p)]
        pods = await claim(self.client, PODS, sts, sts["spec"].get("selector"), candidates)
        revs = await claim(self.client, CONTROLLERREVISIONS, sts, sts["spec"].get("selector"),
                           self.revisions.by_index("namespace", namespace))
        current, update, collisions = await self._revisions(sts, revs)
        current_name, update_name = current["metadata"]["name"], update["metadata"]["name"]
        actions = plan(sts, pods, current_name, update_name)
        templates = {current_name: revisions.template_of(current), update_name: revisions.template_of(update)}
        if sts["spec"].get("podManagementPolicy") == "Parallel":
            results = await asyncio.gather(*(self._act(sts, a, templates) for a in actions), return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
        else:
            failures = []
            for action in actions:
                try:
                    await self._act(sts, action, templates)
                except errors.ApiError as exc:
                    failures.append(exc)
                    break
        await self._fix_claim_owners(sts, pods)
        status = compute_status(sts, pods, current_name, update_name, collisions)
        await self._update_status(sts, status)
        live = {status["currentRevision"], update_name, *(_revision(p) for p in pods)}
        for revision in revisions.to_truncate(revs, live, int(sts["spec"].get("revisionHistoryLimit", 10))):
            await self.history.delete(revision)
        if failures:
            raise failures[0]

    async def _revisions(self, sts: Obj, revs: list[Obj]) -> tuple[Obj, Obj, int]:
        """Kubernetes' getStatefulSetRevisions: the update revision (the current template's, made or
        renumbered to be the newest) and the current one (status.currentRevision, else the update one)."""
        ordered = revisions.sorted_revisions(revs)
        data = revisions.template_data(sts["spec"]["template"])
        collisions = int((sts.get("status") or {}).get("collisionCount") or 0)
        equal = revisions.find_equal(ordered, data)
        number = revisions.next_number(ordered)
        if equal and ordered[-1] is equal[-1]:
            update = equal[-1]
        elif equal:
            update = await self.history.renumber(equal[-1], number)
        else:
            labels_ = dict((sts["spec"]["template"].get("metadata") or {}).get("labels") or {})
            update, collisions = await self.history.create(sts, data, number, labels_, collisions)
        wanted = (sts.get("status") or {}).get("currentRevision")
        current = next((r for r in ordered if r["metadata"]["name"] == wanted), update)
        return current, update, collisions

    async def _act(self, sts: Obj, action: Action, templates: dict[str, Obj]) -> None:
        set_name = sts["metadata"]["name"]
        if action.kind == "create":
            if not await self._ensure_claims(sts, action.ordinal, None):
                return
            pod = new_pod(sts, templates[action.revision], action.revision, action.ordinal)
            try:
                await self.client.create(PODS, pod)
            except errors.AlreadyExists:
                return  # our cache is behind: the next sync sees it
            except errors.ApiError as exc:
                await self.recorder.record(sts, "Warning", "FailedCreate", f"create Pod {pod['metadata']['name']} "
                                                                           f"in StatefulSet {set_name} failed "
                                                                           f"error: {exc}")
                raise
            await self.recorder.record(sts, "Normal", "SuccessfulCreate",
                                       f"create Pod {pod['metadata']['name']} in StatefulSet {set_name} successful")
        elif action.kind == "claims" and action.pod is not None:
            await self._ensure_claims(sts, action.ordinal, action.pod)
        elif action.kind == "fix" and action.pod is not None:
            meta = action.pod["metadata"]
            patch = {"metadata": {"uid": meta["uid"], "labels": {
                POD_NAME_LABEL: meta["name"], POD_INDEX_LABEL: str(action.ordinal)}}}
            with contextlib.suppress(errors.NotFound, errors.Conflict):
                await self.client.patch(PODS, meta["name"], patch, meta["namespace"], patch_type="merge")
        elif action.kind == "delete" and action.pod is not None:
            await self._delete(sts, action)

    async def _delete(self, sts: Obj, action: Action) -> None:
        assert action.pod is not None
        meta = action.pod["metadata"]
        set_name = sts["metadata"]["name"]
        if action.reason == "scale-down":  # the retention policy may hand the claims to the pod first
            await self._fix_claim_owners(sts, [action.pod])
        if action.reason == "failed":
            await self.recorder.record(sts, "Warning", "RecreatingFailedPod",
                                       f"StatefulSet {meta['namespace']}/{set_name} is recreating failed Pod "
                                       f"{meta['name']}")
        try:
            await self.client.delete(PODS, meta["name"], meta["namespace"], preconditions={"uid": meta["uid"]})
        except (errors.NotFound, errors.Conflict):
            return
        except errors.ApiError as exc:
            await self.recorder.record(sts, "Warning", "FailedDelete",
                                       f"delete Pod {meta['name']} in StatefulSet {set_name} failed error: {exc}")
            raise
        await self.recorder.record(sts, "Normal", "SuccessfulDelete",
                                   f"delete Pod {meta['name']} in StatefulSet {set_name} successful")

    async def _ensure_claims(self, sts: Obj, ordinal: int, pod: Obj | None) -> bool:
        """Create the ordinal's missing claims; False when the pod must wait (a claim still being deleted,
        or one owned by an earlier pod of that name, which the garbage collector is about to remove)."""
        pod_uid = pod["metadata"]["uid"] if pod else None
        ready = True
        for body in new_claims(sts, ordinal).values():
            name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
            existing = self.claims.get(f"{namespace}/{name}")
            if existing is not None:
                stale = any(r.get("kind") == "Pod" and r.get("uid") != pod_uid
                            for r in existing["metadata"].get("ownerReferences") or [])
                if existing["metadata"].get("deletionTimestamp") or stale:
                    ready = False
                continue
            refs = claim_owner_refs([], sts, pod, condemned=False)
            if refs:
                body["metadata"]["ownerReferences"] = refs
            try:
                await self.client.create(PERSISTENTVOLUMECLAIMS, body, namespace)
            except errors.AlreadyExists:
                continue
            except errors.ApiError as exc:
                await self.recorder.record(sts, "Warning", "FailedCreate",
                                           f"create Claim {name} for Pod {sts['metadata']['name']}-{ordinal} in "
                                           f"StatefulSet {sts['metadata']['name']} failed error: {exc}")
                raise
            await self.recorder.record(sts, "Normal", "SuccessfulCreate",
                                       f"create Claim {name} Pod {sts['metadata']['name']}-{ordinal} in "
                                       f"StatefulSet {sts['metadata']['name']} success")
        if not ready:
            self.queue.add_after(object_key(sts), 1.0)
        return ready

    async def _fix_claim_owners(self, sts: Obj, pods: list[Obj]) -> None:
        ordinals = replica_ordinals(sts)
        for pod in pods:
            if not pod["metadata"].get("uid"):
                continue
            ordinal = parent_and_ordinal(pod["metadata"]["name"])[1]
            for body in new_claims(sts, ordinal).values():
                existing = self.claims.get(f"{body['metadata']['namespace']}/{body['metadata']['name']}")
                if existing is None or existing["metadata"].get("deletionTimestamp"):
                    continue
                refs = existing["metadata"].get("ownerReferences") or []
                wanted = claim_owner_refs(refs, sts, pod, condemned=ordinal not in ordinals)
                if wanted == refs:
                    continue
                meta = existing["metadata"]
                with contextlib.suppress(errors.NotFound, errors.Conflict):
                    await self.client.patch(PERSISTENTVOLUMECLAIMS, meta["name"],
                                            {"metadata": {"uid": meta["uid"], "ownerReferences": wanted}},
                                            meta["namespace"], patch_type="merge")

    async def _update_status(self, sts: Obj, status: Obj) -> None:
        old = sts.get("status") or {}
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        if status == old:
            return
        await self.client.replace_status(STATEFULSETS, {**sts, "status": status})
