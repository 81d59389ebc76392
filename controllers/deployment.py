"""Deployment controller: roll a pod template out through one ReplicaSet per template hash.

Each sync finds the Deployment's ReplicaSets (adopting orphans that match its selector), picks the one
whose template is the Deployment's (creating `<name>-<hash>` when none is), then takes one step of the
strategy: RollingUpdate grows the new ReplicaSet and shrinks old ones within maxSurge/maxUnavailable;
Recreate scales old ones to 0, waits for their pods to go, then scales the new one up. A replicas change
mid-rollout is spread proportionally; a paused Deployment only scales. Old ReplicaSets beyond
revisionHistoryLimit are deleted. Status, revisions, annotations and conditions are written as
kube-controller-manager writes them, so the real `kubectl rollout status|undo|history|pause` work.
The arithmetic lives in `controllers.deploymentutil`.
"""

from __future__ import annotations

import contextlib
import copy
import time
from typing import Any, ClassVar

from controllers import deploymentutil as du
from controllers.base import Controller, controller_of
from controllers.claim import claim
from controllers.context import ControllerContext
from kube import errors, labels
from kube.events import EventRecorder
from kube.informer import Handler, object_key
from kube.resources import DEPLOYMENTS, PODS, REPLICASETS, ResourceType

__all__ = ["DeploymentController"]

Obj = dict[str, Any]


class DeploymentController(Controller):
    name: ClassVar[str] = "deployment"
    primary: ClassVar[ResourceType] = DEPLOYMENTS
    watches: ClassVar[tuple[ResourceType, ...]] = (REPLICASETS, PODS)
    workers: ClassVar[int] = 4

    #: how long a write of ours may stay unseen by the caches before they are trusted anyway
    written_ttl: ClassVar[float] = 30.0

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.recorder = EventRecorder(ctx.client, "deployment-controller")  # the source `describe` shows
        self._written: dict[str, tuple[int, float]] = {}  # uid -> (resourceVersion we wrote, when)
        self.replicasets = ctx.informers.informer(REPLICASETS)
        self.replicasets.add_indexer("namespace", lambda rs: [rs["metadata"].get("namespace", "")])
        self.replicasets.add_handler(Handler(on_add=self._rs_added, on_update=self._rs_updated,
                                             on_delete=self._rs_deleted))
        self.pods = ctx.informers.informer(PODS)
        self.pods.add_indexer("namespace", lambda p: [p["metadata"].get("namespace", "")])
        self.pods.add_handler(Handler(on_delete=self._pod_deleted))

    # ------------------------------------------------------------------ replicaset/pod events -> deployment keys

    def _matching_deployments(self, rs: Obj) -> list[str]:
        """Deployments that could adopt an orphan ReplicaSet."""
        ns = rs["metadata"].get("namespace")
        rs_labels = rs["metadata"].get("labels") or {}
        keys = []
        for d in self.informer.list():
            selector = labels.from_label_selector(d["spec"].get("selector"))
            if d["metadata"].get("namespace") == ns and not selector.empty() and selector.matches(rs_labels):
                keys.append(object_key(d))
        return keys

    def _rs_added(self, rs: Obj) -> None:
        key = self.owner_key(rs, self.primary.kind)
        if key is not None:
            self.queue.add(key)
        elif controller_of(rs) is None:
            for key in self._matching_deployments(rs):
                self.queue.add(key)

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        old_ref, new_ref = controller_of(old), controller_of(new)
        if old_ref is not None and old_ref != new_ref:
            key = self.owner_key(old, self.primary.kind)
            if key is not None:
                self.queue.add(key)
        if new_ref is not None:
            key = self.owner_key(new, self.primary.kind)
            if key is not None:
                self.queue.add(key)
        elif old_ref is not None or old["metadata"].get("labels") != new["metadata"].get("labels"):
            for key in self._matching_deployments(new):
                self.queue.add(key)

    def _rs_deleted(self, rs: Obj) -> None:
        self._written.pop(rs["metadata"].get("uid", ""), None)
        key = self.owner_key(rs, self.primary.kind)
        if key is not None:
            self.queue.add(key)

    def _pod_deleted(self, pod: Obj) -> None:
        """A Recreate rollout waits for the old pods to be gone: look again when one goes."""
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.replicasets.get(f"{pod['metadata'].get('namespace')}/{ref['name']}")
        key = self.owner_key(rs, self.primary.kind) if rs is not None else None
        if key is not None and (d := self.informer.get(key)) is not None and not du.is_rolling_update(d):
            self.queue.add(key)

    # ------------------------------------------------------------------ reconcile

    async def sync(self, key: str) -> None:
        cached = self.informer.get(key)
        if cached is None:
            return
        uid = cached["metadata"].get("uid")
        owned = [rs for rs in self.replicasets.by_index("namespace", cached["metadata"]["namespace"])
                 if (controller_of(rs) or {}).get("uid") == uid]
        if self._stale([cached, *owned]):
            return  # the event of our own last write is on its way and will requeue this key
        d = copy.deepcopy(cached)
        selector = d["spec"].get("selector")
        if labels.from_label_selector(selector).empty():
            await self.recorder.record(d, "Warning", "SelectingAll",
                                       "This deployment is selecting all pods. A non-empty selector is required.")
            return
        rs_list = await self._replica_sets_for(d)
        if d["metadata"].get("deletionTimestamp"):
            new_rs, old_rss = await self._new_and_old(d, rs_list, create=False)
            await self._sync_status(d, [*old_rss, new_rs], new_rs)
            return
        await self._check_paused_conditions(d)
        if d["spec"].get("paused") or self._is_scaling_event(d, rs_list):
            await self._scale_and_sync(d, rs_list)
        elif du.is_rolling_update(d):
            await self._rollout_rolling(d, rs_list)
        else:
            await self._rollout_recreate(d, rs_list)

    async def _replica_sets_for(self, d: Obj) -> list[Obj]:
        """The ReplicaSets this Deployment controls, after adopting matching orphans and releasing strays."""
        candidates = self.replicasets.by_index("namespace", d["metadata"]["namespace"])
        return await claim(self.client, REPLICASETS, d, d["spec"].get("selector"), candidates)

    def _is_scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        """spec.replicas changed since the active ReplicaSets were last sized (their desired-replicas)."""
        new_rs = du.find_new(d, rs_list)
        for rs in du.filter_active([*du.find_old(d, rs_list), new_rs]):
            desired = (rs["metadata"].get("annotations") or {}).get(du.DESIRED_REPLICAS)
            if desired is not None and desired.isdigit() and int(desired) != du.replicas(d):
                return True
        return False

    # ------------------------------------------------------------------ strategies

    async def _rollout_rolling(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old_rss = await self._new_and_old(d, rs_list, create=True)
        if new_rs is None:
            return
        all_rss = [*old_rss, new_rs]
        if await self._reconcile_new(d, all_rss, new_rs):
            await self._sync_rollout_status(d, all_rss, new_rs)
            return
        if await self._reconcile_old(d, all_rss, du.filter_active(old_rss), new_rs):
            await self._sync_rollout_status(d, all_rss, new_rs)
            return
        if du.deployment_complete(d, d.get("status") or {}):
            await self._cleanup(d, old_rss)
        await self._sync_rollout_status(d, all_rss, new_rs)

    async def _reconcile_new(self, d: Obj, all_rss: list[Obj], new_rs: Obj) -> bool:
        want = du.replicas(d)
        if du.replicas(new_rs) == want:
            return False
        if du.replicas(new_rs) > want:
            return await self._scale(d, new_rs, want) is not None
        return await self._scale(d, new_rs, du.new_rs_new_replicas(d, all_rss, new_rs)) is not None

    async def _reconcile_old(self, d: Obj, all_rss: list[Obj], old_rss: list[Obj], new_rs: Obj) -> bool:
        scaled = False
        sizes = du.plan_reconcile_old(d, all_rss, old_rss, new_rs)
        for rs in old_rss:
            size = sizes.get(rs["metadata"]["name"])
            if size is not None:
                scaled = await self._scale(d, rs, size) is not None or scaled
        return scaled

    async def _rollout_recreate(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old_rss = await self._new_and_old(d, rs_list, create=False)
        all_rss: list[Obj | None] = [*old_rss, new_rs]
        scaled_down = False
        for rs in du.filter_active(old_rss):
            scaled_down = await self._scale(d, rs, 0) is not None or scaled_down
        if scaled_down or self._old_pods_running(d, new_rs, old_rss, rs_list):
            await self._sync_rollout_status(d, all_rss, new_rs)
            return
        if new_rs is None:
            new_rs, old_rss = await self._new_and_old(d, rs_list, create=True)
            if new_rs is None:
                return
            all_rss = [*old_rss, new_rs]
        if du.replicas(new_rs) != du.replicas(d):
            new_rs = await self._scale(d, new_rs, du.replicas(d)) or new_rs
            all_rss = [*old_rss, new_rs]
        if du.deployment_complete(d, d.get("status") or {}):
            await self._cleanup(d, old_rss)
        await self._sync_rollout_status(d, all_rss, new_rs)

    def _old_pods_running(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj], rs_list: list[Obj]) -> bool:
        """Whether any pod of an old ReplicaSet still exists in a non-terminal phase (even while terminating)."""
        if du.actual_count(old_rss) > 0:
            return True
        new_uid = (new_rs or {}).get("metadata", {}).get("uid")
        owned = {rs["metadata"]["uid"] for rs in rs_list} - {new_uid}
        match = labels.from_label_selector(d["spec"].get("selector"))
        for pod in self.pods.by_index("namespace", d["metadata"]["namespace"]):
            ref = controller_of(pod)
            if ref is None or ref.get("uid") not in owned or not match.matches(pod["metadata"].get("labels")):
                continue
            if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                return True
        return False

    async def _scale_and_sync(self, d: Obj, rs_list: list[Obj]) -> None:
        """A paused Deployment or a replicas change: resize without rolling out (proportionally mid-rollout)."""
        new_rs, old_rss = await self._new_and_old(d, rs_list, create=False)
        updated = await self._proportional_scale(d, new_rs, old_rss)
        new_rs = updated.get(new_rs["metadata"]["name"], new_rs) if new_rs is not None else None
        old_rss = [updated.get(rs["metadata"]["name"], rs) for rs in old_rss]
        if d["spec"].get("paused"):
            await self._cleanup(d, old_rss)
        await self._sync_status(d, [*old_rss, new_rs], new_rs)

    async def _proportional_scale(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> dict[str, Obj]:
        updated: dict[str, Obj] = {}
        target = du.find_active_or_latest(new_rs, old_rss)
        if target is not None:
            if du.replicas(target) != du.replicas(d):
                result = await self._scale(d, target, du.replicas(d))
                if result is not None:
                    updated[target["metadata"]["name"]] = result
            return updated
        if du.is_saturated(d, new_rs):
            for rs in du.filter_active(old_rss):
                result = await self._scale(d, rs, 0)
                if result is not None:
                    updated[rs["metadata"]["name"]] = result
            return updated
        if not du.is_rolling_update(d):
            return updated
        sizes, operation = du.plan_proportional(d, new_rs, old_rss)
        for rs in du.filter_active([*old_rss, new_rs]):
            result = await self._scale(d, rs, sizes[rs["metadata"]["name"]], operation)
            if result is not None:
                updated[rs["metadata"]["name"]] = result
        return updated

    # ------------------------------------------------------------------ replica sets

    async def _new_and_old(self, d: Obj, rs_list: list[Obj], create: bool) -> tuple[Obj | None, list[Obj]]:
        """The new ReplicaSet (its revision and annotations brought up to date, or created) and the old ones."""
        old_rss = du.find_old(d, rs_list)
        existing = du.find_new(d, rs_list)
        new_revision = du.max_revision(old_rss) + 1
        if existing is not None:
            return await self._sync_existing_new(d, existing, new_revision), old_rss
        if not create:
            return None, old_rss
        return await self._create_new(d, old_rss, new_revision), old_rss

    async def _sync_existing_new(self, d: Obj, existing: Obj, new_revision: int) -> Obj:
        rs = copy.deepcopy(existing)
        annotations_changed = du.set_new_rs_annotations(d, rs, new_revision, exists=True)
        min_ready = d["spec"].get("minReadySeconds") or 0
        if annotations_changed or (rs["spec"].get("minReadySeconds") or 0) != min_ready:
            if min_ready:
                rs["spec"]["minReadySeconds"] = min_ready
            else:
                rs["spec"].pop("minReadySeconds", None)
            return self._wrote(await self.client.replace(REPLICASETS, rs))
        await self._set_revision(d, (rs["metadata"].get("annotations") or {}).get(du.REVISION, ""))
        if du.has_progress_deadline(d) and du.get_condition(d.get("status"), du.PROGRESSING) is None:
            status = copy.deepcopy(d.get("status") or {})
            du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.FOUND_NEW_RS,
                                                      f'Found new replica set "{rs["metadata"]["name"]}"'))
            await self._write_status(d, status)
        return rs

    async def _create_new(self, d: Obj, old_rss: list[Obj], new_revision: int) -> Obj | None:
        collision = (d.get("status") or {}).get("collisionCount")
        pod_hash = du.compute_hash(d["spec"]["template"], collision)
        rs = du.new_rs_object(d, pod_hash, 0, {})
        size = du.new_rs_new_replicas(d, [*old_rss, rs], rs)
        rs["spec"]["replicas"] = size
        du.set_new_rs_annotations(d, rs, new_revision, exists=False)
        name, ns = rs["metadata"]["name"], rs["metadata"]["namespace"]
        already_exists = False
        try:
            created = self._wrote(await self.client.create(REPLICASETS, rs))
        except errors.AlreadyExists:
            # A slow cache (we made it before a crash or a moment ago) or a genuine hash collision.
            already_exists = True
            created = await self.client.get(REPLICASETS, name, ns)
            ref = controller_of(created)
            if not (ref and ref.get("uid") == d["metadata"]["uid"]
                    and du.equal_ignore_hash(created["spec"].get("template"), d["spec"]["template"])):
                status = copy.deepcopy(d.get("status") or {})
                status["collisionCount"] = int(collision or 0) + 1
                await self._write_status(d, status)
                self.log.info("hash collision for deployment %s/%s on %s: collisionCount now %d",
                              ns, d["metadata"]["name"], name, status["collisionCount"])
                raise
        except errors.ApiError as exc:
            message = f'Failed to create new replica set "{name}": {exc}'
            if isinstance(exc, errors.Forbidden):  # e.g. the namespace is terminating: nothing to report
                raise
            if du.has_progress_deadline(d):
                status = copy.deepcopy(d.get("status") or {})
                du.set_condition(status, du.new_condition(du.PROGRESSING, "False", du.RS_CREATE_FAILED, message))
                await self._write_status(d, status)
            await self.recorder.record(d, "Warning", du.RS_CREATE_FAILED, message)
            raise
        if not already_exists and size > 0:
            await self.recorder.record(d, "Normal", "ScalingReplicaSet",
                                       f"Scaled up replica set {name} to {size} from 0")
        await self._set_revision(d, str(new_revision) if not already_exists else
                                 (created["metadata"].get("annotations") or {}).get(du.REVISION, str(new_revision)))
        if not already_exists and du.has_progress_deadline(d):
            status = copy.deepcopy(d.get("status") or {})
            du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_CREATED,
                                                      f'Created new replica set "{name}"'))
            await self._write_status(d, status)
        return created

    async def _scale(self, d: Obj, rs: Obj, size: int, operation: str | None = None) -> Obj | None:
        """Resize `rs` (and refresh its desired/max-replicas annotations); the updated RS when its size
        changed, else None."""
        desired, maximum = du.replicas(d), du.replicas(d) + du.max_surge(d)
        old_size = du.replicas(rs)
        if old_size == size and not du.replicas_annotations_need_update(rs, desired, maximum):
            return None
        copy_ = copy.deepcopy(rs)
        copy_["spec"]["replicas"] = size
        du.set_replicas_annotations(copy_, desired, maximum)
        updated = self._wrote(await self.client.replace(REPLICASETS, copy_))
        if old_size == size:
            return None
        operation = operation or ("up" if size > old_size else "down")
        await self.recorder.record(d, "Normal", "ScalingReplicaSet",
                                   f"Scaled {operation} replica set {rs['metadata']['name']} to {size} from {old_size}")
        return updated

    async def _cleanup(self, d: Obj, old_rss: list[Obj]) -> None:
        """Delete the oldest scaled-down ReplicaSets beyond revisionHistoryLimit."""
        for rs in du.cleanup_victims(d, old_rss):
            meta = rs["metadata"]
            try:
                await self.client.delete(REPLICASETS, meta["name"], meta["namespace"],
                                         preconditions={"uid": meta["uid"]})
            except errors.NotFound:
                continue

    # ------------------------------------------------------------------ status

    async def _check_paused_conditions(self, d: Obj) -> None:
        """Progressing=Unknown while paused (and when resumed), so time spent paused never counts as lack
        of progress."""
        if not du.has_progress_deadline(d):
            return
        current = du.get_condition(d.get("status"), du.PROGRESSING)
        if current is not None and current.get("reason") == du.TIMED_OUT:
            return
        paused_condition = current is not None and current.get("reason") == du.PAUSED
        status = copy.deepcopy(d.get("status") or {})
        if d["spec"].get("paused") and not paused_condition:
            du.set_condition(status, du.new_condition(du.PROGRESSING, "Unknown", du.PAUSED, "Deployment is paused"))
        elif not d["spec"].get("paused") and paused_condition:
            du.set_condition(status, du.new_condition(du.PROGRESSING, "Unknown", du.RESUMED, "Deployment is resumed"))
        else:
            return
        await self._write_status(d, status)

    async def _sync_status(self, d: Obj, all_rss: list[Obj | None], new_rs: Obj | None) -> None:
        await self._write_status(d, du.calculate_status(all_rss, new_rs, d))

    async def _sync_rollout_status(self, d: Obj, all_rss: list[Obj | None], new_rs: Obj | None) -> None:
        status = du.rollout_status(d, all_rss, new_rs)
        if status == (d.get("status") or {}):
            after = du.progress_check_after(d, status)
            if after is not None:
                self.queue.add_after(object_key(d), after)
            return
        await self._write_status(d, status)

    async def _write_status(self, d: Obj, status: Obj) -> None:
        """PUT the status with the resourceVersion we read (a newer spec fails with Conflict and requeues);
        `d` follows the write so later steps of the same sync build on it."""
        if status == (d.get("status") or {}):
            return
        written = await self.client.replace_status(DEPLOYMENTS, {**d, "status": status})
        d["status"] = status
        self._follow(d, self._wrote(written))

    async def _set_revision(self, d: Obj, revision: str) -> None:
        """The Deployment carries its newest revision (Kubernetes writes it with the status; the status
        subresource here keeps metadata, so it is a metadata-only patch)."""
        if not revision or (d["metadata"].get("annotations") or {}).get(du.REVISION) == revision:
            return
        meta = d["metadata"]
        written = await self.client.patch(DEPLOYMENTS, meta["name"], {"metadata": {
            "annotations": {du.REVISION: revision}}}, meta["namespace"])
        d["metadata"].setdefault("annotations", {})[du.REVISION] = revision
        self._follow(d, self._wrote(written))

    # ------------------------------------------------------------------ our own writes vs the caches

    def _wrote(self, obj: Obj) -> Obj:
        meta = obj["metadata"]
        with contextlib.suppress(KeyError, ValueError):
            self._written[meta["uid"]] = (int(meta["resourceVersion"]), time.monotonic())
        return obj

    def _stale(self, objs: list[Obj]) -> bool:
        """Whether a cache still holds an object older than our own last write to it: acting on it would
        count a ReplicaSet at its size before we resized it (and scale another one too far)."""
        stale = False
        for obj in objs:
            meta = obj["metadata"]
            entry = self._written.get(meta.get("uid", ""))
            if entry is None:
                continue
            try:
                seen = int(meta.get("resourceVersion") or 0)
            except ValueError:
                seen = entry[0]
            if seen >= entry[0] or time.monotonic() - entry[1] > self.written_ttl:
                del self._written[meta["uid"]]
            else:
                stale = True
        return stale

    @staticmethod
    def _follow(d: Obj, written: Obj) -> None:
        """Take the new resourceVersion only while the spec we act on is still the stored one."""
        if written["metadata"].get("generation") == d["metadata"].get("generation"):
            d["metadata"]["resourceVersion"] = written["metadata"]["resourceVersion"]
