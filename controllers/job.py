"""Job controller: run pods to completion, `parallelism` at a time, until `completions` of them succeed.

Follows kube-controller-manager's job controller (pkg/controller/job/job_controller.go):

- Counting without double counting. Every pod the controller creates carries the
  `batch.kubernetes.io/job-tracking` finalizer, so a finished pod cannot vanish before it is counted. A
  finished pod's uid is first written to `status.uncountedTerminatedPods`, then its finalizer is removed, then
  the uid moves from that list into `status.succeeded`/`failed`. Each step is idempotent and the state lives
  in the API, so a controller killed between any two of them resumes where it stopped: a uid already in the
  list is not added twice, and a pod without the finalizer is never counted again. Two in-memory guards cover
  a lagging watch in a running controller: finalizer removals not yet seen in the pod cache, and the Job's
  own status writes not yet seen in the Job cache (a sync waits for its cache to catch up).
- Terminal conditions in two steps, as Kubernetes 1.31+ writes them: `FailureTarget` (BackoffLimitExceeded,
  DeadlineExceeded) or `SuccessCriteriaMet` first, then `Failed` or `Complete` once no pod is left
  terminating and every finished pod is counted.
- NonIndexed and Indexed completion modes (completion index annotation and label, `JOB_COMPLETION_INDEX`,
  hostname `<job>-<index>`, `status.completedIndexes`), suspend/resume, activeDeadlineSeconds, backoffLimit
  (with `restartPolicy: OnFailure`, container restarts count too), exponential back-off between failed pod
  recreations, podReplacementPolicy, adoption of orphans matching a manual selector, and
  ttlSecondsAfterFinished (the TTL-after-finished controller's job, done here).

Options (ctx.options): `job_backoff_base` (seconds, default 10, env KUBELITE_JOB_BACKOFF_BASE) and
`job_backoff_max` (default 360: six minutes, as the Job documentation states).
"""

from __future__ import annotations

import asyncio
import copy
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from controllers import jobutil, podutil
from controllers.base import Controller, controller_of
from controllers.context import ControllerContext
from controllers.expectations import Expectations
from controllers.jobutil import COMPLETION_INDEX_ANNOTATION, TRACKING_FINALIZER, BackoffRecord
from kube import errors, labels, timeutil
from kube.informer import Handler, object_key
from kube.resources import JOBS, PODS, ResourceType
from kube.workqueue import WorkQueue

__all__ = ["JobController", "is_pod_failed", "pods_for_removal", "want_active"]

Obj = dict[str, Any]

BURST = 500  # most pods created or deleted in one sync (MaxPodCreateDeletePerSync)
MAX_UNCOUNTED = 500  # most uids in status.uncountedTerminatedPods (MaxUncountedPods)
MAX_GENERATED_NAME = 58  # a generateName prefix longer than this is cut (names.MaxGeneratedNameLength)


# ---------------------------------------------------------------------- pure decisions (unit-tested)


def has_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])


def only_replace_failed(job: Obj) -> bool:
    """podReplacementPolicy Failed (or a podFailurePolicy): a terminating pod is replaced only once Failed."""
    spec = job["spec"]
    return spec.get("podReplacementPolicy") == "Failed" or bool(spec.get("podFailurePolicy"))


def is_pod_failed(pod: Obj, job: Obj) -> bool:
    """Failed phase, or (by default) being deleted before it succeeded: an orphan that never reaches Failed."""
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Failed":
        return True
    if only_replace_failed(job):
        return False
    return bool(pod["metadata"].get("deletionTimestamp")) and phase != "Succeeded"


def is_terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp")) and \
        (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def want_active(job: Obj, active: int, succeeded: int) -> int:
    """How many pods should run: parallelism, never beyond the completions still missing. Without
    completions, the first success means: start nothing new, let the running ones finish."""
    parallelism = int(job["spec"].get("parallelism", 1))
    completions = job["spec"].get("completions")
    if completions is None:
        return active if succeeded > 0 else parallelism
    return max(0, min(int(completions) - succeeded, parallelism))


def pods_for_removal(job: Obj, active: list[Obj], at_least: int) -> list[Obj]:
    """Active pods to delete: for Indexed Jobs first those with no valid index and the extra copies of an
    index, then (any mode) the least advanced pods until `at_least` are chosen."""
    remove: list[Obj] = []
    keep: list[Obj] = []
    if job["spec"].get("completionMode") == "Indexed":
        completions = int(job["spec"].get("completions") or 0)
        by_index: dict[int, list[Obj]] = {}
        for pod in active:
            index = jobutil.completion_index(pod)
            if index is None or index >= completions:
                remove.append(pod)
            else:
                by_index.setdefault(index, []).append(pod)
        for _, same in sorted(by_index.items()):
            ranked = sorted(same, key=podutil.deletion_rank)
            remove.extend(ranked[:-1])
            keep.append(ranked[-1])
    else:
        keep = list(active)
    if len(remove) < at_least:
        remove.extend(sorted(keep, key=podutil.deletion_rank)[:at_least - len(remove)])
    return remove


def past_backoff_limit_on_failure(job: Obj, pods: list[Obj]) -> bool:
    """With restartPolicy OnFailure failures are container restarts inside running pods: count those."""
    if ((job["spec"].get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    restarts = 0
    for pod in pods:
        status = pod.get("status") or {}
        if status.get("phase") in ("Running", "Pending", None):
            for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
                restarts += int(cs.get("restartCount") or 0)
    limit = int(job["spec"].get("backoffLimit", 6))
    return restarts > 0 if limit == 0 else restarts >= limit


def indexed_generate_name(job_name: str, index: int) -> str:
    suffix = f"-{index}-"
    prefix = job_name + suffix
    if len(prefix) > MAX_GENERATED_NAME:
        prefix = job_name[:MAX_GENERATED_NAME - len(suffix)] + suffix
    return prefix


def add_index_env(spec: Obj) -> None:
    """JOB_COMPLETION_INDEX in every container, read from the pod's annotation (a downward-API fieldRef)."""
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        env = container.setdefault("env", [])
        if not any(e.get("name") == "JOB_COMPLETION_INDEX" for e in env):
            env.append({"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
                "apiVersion": "v1", "fieldPath": f"metadata.annotations['{COMPLETION_INDEX_ANNOTATION}']"}}})


def status_for_write(status: Obj) -> Obj:
    """The status as Kubernetes serialises it: zero counters and empty lists omitted, ready/terminating kept."""
    out = {k: v for k, v in status.items() if v not in (None, "", [])}
    for zero in ("active", "succeeded", "failed"):
        if not out.get(zero):
            out.pop(zero, None)
    uncounted = status.get("uncountedTerminatedPods") or {}
    out["uncountedTerminatedPods"] = {k: list(v) for k, v in uncounted.items() if v}
    return out


def _index_or_minus_one(pod: Obj) -> int:
    index = jobutil.completion_index(pod)
    return -1 if index is None else index


# ---------------------------------------------------------------------- the controller


@dataclass
class _Sync:
    """What one sync of one Job has learnt so far (syncJobCtx)."""

    key: str
    job: Obj
    status: Obj
    pods: list[Obj]
    active: list[Obj]
    succeeded: int = 0
    failed: int = 0
    terminating: int = 0
    ready: int = 0
    finished: Obj | None = None  # the condition the Job is heading for, if any
    prev_indexes: set[int] = field(default_factory=set)
    succeeded_indexes: set[int] = field(default_factory=set)
    backoff: BackoffRecord = field(default_factory=BackoffRecord)
    error: BaseException | None = None  # the first failed pod create or delete, raised at the end


class JobController(Controller):
    name: ClassVar[str] = "job"
    primary: ClassVar[ResourceType] = JOBS
    watches: ClassVar[tuple[ResourceType, ...]] = (PODS,)
    workers: ClassVar[int] = 4

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.expectations = Expectations()
        self.backoff_base = float(ctx.option("job_backoff_base", os.environ.get("KUBELITE_JOB_BACKOFF_BASE", 10.0)))
        self.backoff_max = float(ctx.option("job_backoff_max", os.environ.get("KUBELITE_JOB_BACKOFF_MAX", 360.0)))
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._backoffs: dict[str, BackoffRecord] = {}
        self._removing: set[str] = set()  # pod uids whose finalizer removal the pod cache has not shown yet
        self._written: dict[str, int] = {}  # job key -> resourceVersion of our last status write
        self.orphans = WorkQueue(base_delay=0.05, max_delay=60.0)
        self.pods = ctx.informers.informer(PODS)
        self.pods.add_indexer("namespace", lambda p: [p["metadata"].get("namespace", "")])
        self.pods.add_handler(Handler(on_add=self._pod_added, on_update=self._pod_updated,
                                      on_delete=self._pod_deleted))
        self.informer.add_handler(Handler(on_delete=self._job_deleted))

    # ------------------------------------------------------------------ events -> keys

    def _job_key(self, pod: Obj) -> str | None:
        return self.owner_key(pod, "Job")

    def _matching_jobs(self, pod: Obj) -> list[str]:
        """Jobs whose selector matches an orphan pod: they may adopt it."""
        ns = pod["metadata"].get("namespace")
        pod_labels = pod["metadata"].get("labels") or {}
        keys = []
        for job in self.informer.list():
            if job["metadata"].get("namespace") != ns:
                continue
            selector = labels.from_label_selector(job["spec"].get("selector"))
            if not selector.empty() and selector.matches(pod_labels):
                keys.append(object_key(job))
        return keys

    def _pod_added(self, pod: Obj) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._pod_deleted(pod, final=False)  # seen first while terminating (e.g. after a restart)
            return
        key = self._job_key(pod)
        if key is not None:
            self.expectations.creation_observed(key)
            self.queue.add(key)
            return
        self._maybe_orphan(pod)
        if controller_of(pod) is None:
            for job_key in self._matching_jobs(pod):
                self.queue.add(job_key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if not has_finalizer(new):
            self._removing.discard(new["metadata"].get("uid", ""))
        if new["metadata"].get("deletionTimestamp"):
            self._pod_deleted(new, final=False)
            return
        old_key, key = self._job_key(old), self._job_key(new)
        if old_key is not None and old_key != key:
            self.queue.add(old_key)
        if key is not None:
            self.queue.add(key)
            return
        self._maybe_orphan(new)
        if controller_of(new) is None and (new["metadata"].get("labels") != old["metadata"].get("labels")
                                           or controller_of(old) is not None):
            for job_key in self._matching_jobs(new):
                self.queue.add(job_key)

    def _pod_deleted(self, pod: Obj, final: bool = True) -> None:
        if final:
            self._removing.discard(pod["metadata"].get("uid", ""))
        key = self._job_key(pod)
        if key is None:
            if not final:
                self._maybe_orphan(pod)
            return
        self.expectations.deletion_observed(key, object_key(pod))
        self.queue.add(key)
        job = self.informer.get(key)
        if job is not None and jobutil.is_finished(job) and not final:
            self._maybe_orphan(pod)

    def _maybe_orphan(self, pod: Obj) -> None:
        if has_finalizer(pod):
            self.orphans.add(object_key(pod))

    def _job_deleted(self, job: Obj) -> None:
        """Its pods keep the finalizer until someone removes it: queue them for the orphan worker."""
        uid = job["metadata"].get("uid")
        for pod in self.pods.by_index("namespace", job["metadata"].get("namespace", "")):
            ref = controller_of(pod)
            if ref is not None and ref.get("uid") == uid and has_finalizer(pod):
                self.orphans.add(object_key(pod))

    # ------------------------------------------------------------------ orphans

    async def run(self) -> None:
        orphans = asyncio.create_task(self._orphan_worker(), name="job-orphans")
        try:
            await super().run()
        finally:
            self.orphans.shutdown()
            orphans.cancel()

    async def _orphan_worker(self) -> None:
        await self.ctx.informers.wait_synced(JOBS, PODS)
        while True:
            key = await self.orphans.get()
            try:
                await self.sync_orphan(key)
                self.orphans.forget(key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.warning("orphan pod %s: %s", key, exc)
                self.orphans.add_rate_limited(key)
            finally:
                self.orphans.done(key)

    async def sync_orphan(self, pod_key: str) -> None:
        """Drop the tracking finalizer from a pod no running Job will count (its Job is gone or finished)."""
        pod = self.pods.get(pod_key)
        if pod is None or not has_finalizer(pod):
            return
        key = self._job_key(pod)
        if key is not None:
            job = self.informer.get(key)
            if job is not None and not jobutil.is_finished(job):
                return  # the Job's own sync counts it
        await self._remove_finalizer(pod)

    # ------------------------------------------------------------------ reconcile

    async def sync(self, key: str) -> None:
        job = self.informer.get(key)
        if job is None:
            self.expectations.forget(key)
            self._backoffs.pop(key, None)
            self._written.pop(key, None)
            return
        written = self._written.get(key)
        if written is not None and int(job["metadata"].get("resourceVersion") or 0) < written:
            return  # our own last status write is not in the cache yet: its watch event will bring us back
        if jobutil.is_finished(job):
            self._backoffs.pop(key, None)
            await self._expire(key, job)
            return
        if job["spec"].get("completionMode", "NonIndexed") not in ("NonIndexed", "Indexed"):
            await self.recorder.record(job, "Warning", "UnknownCompletionMode",
                                       "Skipped Job sync because completion mode is unknown")
            return

        status = copy.deepcopy(job.get("status") or {})
        uncounted = status.setdefault("uncountedTerminatedPods", {})
        uncounted.setdefault("succeeded", [])
        uncounted.setdefault("failed", [])
        satisfied = self.expectations.satisfied(key)
        pods = await self._pods_for(job)
        s = _Sync(key, job, status, pods, [p for p in pods if podutil.is_active(p)])
        s.terminating = sum(1 for p in pods if is_terminating(p))
        s.ready = sum(1 for p in s.active if podutil.is_ready(p))
        now = self.clock()
        now_text = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        suspended = bool(job["spec"].get("suspend"))
        indexed = job["spec"].get("completionMode") == "Indexed"

        new_succeeded, new_failed = self._newly_finished(s)
        s.succeeded = int(status.get("succeeded") or 0) + len(new_succeeded) + len(uncounted["succeeded"])
        s.failed = int(status.get("failed") or 0) + len(new_failed) + len(uncounted["failed"])
        if not status.get("startTime") and not suspended:
            status["startTime"] = now_text
        s.backoff = self._backoffs.get(key, BackoffRecord()).after(new_succeeded, new_failed)

        # The end state, in Kubernetes' order: an earlier verdict stands, then failures, then success.
        s.finished = copy.deepcopy(self._condition_true(status, "SuccessCriteriaMet"))
        if s.finished is None:
            target = self._condition_true(status, "FailureTarget")
            if target is not None:
                s.finished = jobutil.new_condition("Failed", "True", target.get("reason", ""),
                                                   target.get("message", ""), now_text)
        if s.finished is None:
            deadline = job["spec"].get("activeDeadlineSeconds")
            if s.failed > int(job["spec"].get("backoffLimit", 6)) or past_backoff_limit_on_failure(job, pods):
                s.finished = jobutil.new_condition("FailureTarget", "True", "BackoffLimitExceeded",
                                                   "Job has reached the specified backoff limit", now_text)
            elif deadline is not None and not suspended and status.get("startTime"):
                left = float(deadline) - (now - timeutil.parse(status["startTime"])).total_seconds()
                if left <= 0:
                    s.finished = jobutil.new_condition("FailureTarget", "True", "DeadlineExceeded",
                                                       "Job was active longer than specified deadline", now_text)
                else:
                    self.queue.add_after(key, left + 0.05)
        if indexed:
            completions = int(job["spec"].get("completions") or 0)
            s.prev_indexes = jobutil.parse_indexes(status.get("completedIndexes"), completions)
            s.succeeded_indexes = s.prev_indexes | {
                ix for p in pods
                if (p.get("status") or {}).get("phase") == "Succeeded" and has_finalizer(p)
                and (ix := jobutil.completion_index(p)) is not None and ix < completions}
            s.succeeded = len(s.succeeded_indexes)

        suspend_changed = False
        active = len(s.active)
        if s.finished is not None:
            deleted, ready_deleted, s.error = await self._delete_active(job, s.active)
            if deleted != active or not satisfied:
                s.finished = None  # pods may still appear or hold finalizers: decide on a later sync
            active -= deleted
            s.terminating += deleted
            s.ready -= ready_deleted
        else:
            managed = False
            if satisfied and not job["metadata"].get("deletionTimestamp"):
                active = await self._manage(s)
                managed = True
            completions = job["spec"].get("completions")
            complete = s.succeeded > 0 and active == 0 if completions is None else \
                s.succeeded >= int(completions) and active == 0
            if complete:
                s.finished = jobutil.new_condition("SuccessCriteriaMet", "True", "CompletionsReached",
                                                   "Reached expected number of succeeded pods", now_text)
            elif managed:
                conditions = status.setdefault("conditions", [])
                if suspended:
                    if jobutil.ensure_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended",
                                                now_text):
                        suspend_changed = True
                        await self.recorder.record(job, "Normal", "Suspended", "Job suspended")
                elif jobutil.ensure_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed",
                                              now_text):
                    suspend_changed = True
                    await self.recorder.record(job, "Normal", "Resumed", "Job resumed")
                    status["startTime"] = now_text  # activeDeadlineSeconds counts continuous activity

        old = job.get("status") or {}
        needs_flush = suspend_changed or active != int(old.get("active") or 0) or \
            s.ready != old.get("ready") or s.terminating != old.get("terminating") or \
            status.get("startTime") != old.get("startTime")
        status["active"], status["ready"], status["terminating"] = active, s.ready, s.terminating
        await self._track(s, needs_flush)
        if s.error is not None:
            raise s.error

    @staticmethod
    def _condition_true(status: Obj, ctype: str) -> Obj | None:
        condition = jobutil.find_condition(status, ctype)
        return condition if condition is not None and condition.get("status") == "True" else None

    def _newly_finished(self, s: _Sync) -> tuple[list[Obj], list[Obj]]:
        """Finished pods still holding the finalizer and not yet listed as uncounted (getNewFinishedPods)."""
        uncounted = s.status["uncountedTerminatedPods"]
        completions = int(s.job["spec"].get("completions") or 0)
        indexed = s.job["spec"].get("completionMode") == "Indexed"
        succeeded, failed = [], []
        for pod in s.pods:
            uid = pod["metadata"]["uid"]
            if not has_finalizer(pod) or uid in self._removing:
                continue
            if indexed:
                index = jobutil.completion_index(pod)
                if index is None or index >= completions:
                    continue
            if (pod.get("status") or {}).get("phase") == "Succeeded" and uid not in uncounted["succeeded"]:
                succeeded.append(pod)
            elif is_pod_failed(pod, s.job) and uid not in uncounted["failed"]:
                failed.append(pod)
        return succeeded, failed

    async def _pods_for(self, job: Obj) -> list[Obj]:
        """The Job's pods, finished ones included, after claiming (ControllerRefManager with the tracking
        finalizer): a matching orphan is adopted with the owner reference and the finalizer in one patch,
        an owned pod that stopped matching is released and loses the finalizer."""
        uid = job["metadata"]["uid"]
        selector = labels.from_label_selector(job["spec"].get("selector"))
        deleting = bool(job["metadata"].get("deletionTimestamp"))
        owned: list[Obj] = []
        for pod in self.pods.by_index("namespace", job["metadata"]["namespace"]):
            meta = pod["metadata"]
            ref = controller_of(pod)
            matches = not selector.empty() and selector.matches(meta.get("labels"))
            if ref is not None and ref.get("uid") == uid:
                if matches or deleting:
                    owned.append(pod)
                    continue
                refs = [r for r in meta.get("ownerReferences") or [] if r.get("uid") != uid]
                finalizers = [f for f in meta.get("finalizers") or [] if f != TRACKING_FINALIZER]
                await self._patch_claim(pod, refs, finalizers)
            elif ref is None and matches and not deleting and not meta.get("deletionTimestamp"):
                refs = [*(meta.get("ownerReferences") or []), {
                    "apiVersion": "batch/v1", "kind": "Job", "name": job["metadata"]["name"], "uid": uid,
                    "controller": True, "blockOwnerDeletion": True}]
                finalizers = [*(meta.get("finalizers") or []), TRACKING_FINALIZER]
                if await self._patch_claim(pod, refs, finalizers):
                    owned.append({**pod, "metadata": {**meta, "ownerReferences": refs, "finalizers": finalizers}})
        return owned

    async def _patch_claim(self, pod: Obj, refs: list[Obj], finalizers: list[str]) -> bool:
        """Owner references and finalizers in one patch, guarded by the pod's uid and resourceVersion."""
        meta = pod["metadata"]
        patch = {"metadata": {"uid": meta["uid"], "resourceVersion": meta["resourceVersion"],
                              "ownerReferences": refs, "finalizers": finalizers}}
        try:
            await self.client.patch(PODS, meta["name"], patch, meta["namespace"])
        except (errors.NotFound, errors.Conflict):
            return False
        return True

    # ------------------------------------------------------------------ pods up and down

    async def _manage(self, s: _Sync) -> int:
        """Create or delete pods toward the wanted number of active ones; the active count after it."""
        job, key = s.job, s.key
        active = len(s.active)
        if job["spec"].get("suspend"):
            removed, ready_removed = await self._delete_pods(s, s.active)
            s.terminating += removed
            s.ready -= ready_removed
            return active - removed
        wanted = want_active(job, active, s.succeeded)
        victims = pods_for_removal(job, s.active, max(0, active - wanted))[:BURST]
        if victims:
            removed, ready_removed = await self._delete_pods(s, victims)
            s.terminating += removed
            s.ready -= ready_removed
            return active - removed
        held = s.terminating if only_replace_failed(job) else 0
        diff = wanted - held - active
        if diff <= 0:
            return active
        wait = s.backoff.remaining(self.clock(), self.backoff_base, self.backoff_max)
        if wait > 0:
            self.log.info("job %s: delaying pod creation %.1fs after %d failure(s)", key, wait, s.backoff.failures)
            self.queue.add_after(key, max(wait, 0.2))
            return active
        diff = min(diff, BURST)
        indexes: list[int | None] = [None] * diff
        if job["spec"].get("completionMode") == "Indexed":
            taken = s.succeeded_indexes | {ix for p in s.active if (ix := jobutil.completion_index(p)) is not None}
            free = [ix for ix in range(int(job["spec"].get("completions") or 0)) if ix not in taken]
            indexes = list(free[:diff])
            diff = len(indexes)
            if not diff:
                return active
        return active + await self._create_pods(s, indexes)

    def _pod_for(self, job: Obj, index: int | None) -> Obj:
        template = copy.deepcopy(job["spec"]["template"])
        meta = template.setdefault("metadata", {})
        generate_name = None
        if index is not None:
            meta.setdefault("annotations", {})[COMPLETION_INDEX_ANNOTATION] = str(index)
            meta.setdefault("labels", {})[COMPLETION_INDEX_ANNOTATION] = str(index)
            template["spec"]["hostname"] = f"{job['metadata']['name']}-{index}"
            add_index_env(template["spec"])
            generate_name = indexed_generate_name(job["metadata"]["name"], index)
        if TRACKING_FINALIZER not in (meta.get("finalizers") or []):
            meta["finalizers"] = [*(meta.get("finalizers") or []), TRACKING_FINALIZER]
        return podutil.pod_from_template(template, job, generate_name=generate_name)

    async def _create_pods(self, s: _Sync, indexes: list[int | None]) -> int:
        """Create pods in doubling batches (slow start) and stop at the first batch with a failure, which is
        kept in `s.error`. Returns how many were created."""
        key, job = s.key, s.job
        count = len(indexes)
        self.expectations.expect_creations(key, count)
        attempted, created, batch = 0, 0, 1
        while attempted < count and s.error is None:
            chunk = indexes[attempted:attempted + batch]
            results = await asyncio.gather(*(self.client.create(PODS, self._pod_for(job, ix)) for ix in chunk),
                                           return_exceptions=True)
            attempted += len(chunk)
            batch *= 2
            for result in results:
                if isinstance(result, BaseException):
                    self.expectations.creation_failed(key)
                    s.error = s.error or result
                else:
                    created += 1
                    await self.recorder.record(job, "Normal", "SuccessfulCreate",
                                               f"Created pod: {result['metadata']['name']}")
        for _ in range(count - attempted):  # never attempted after a failure
            self.expectations.creation_failed(key)
        if s.error is not None:
            await self.recorder.record(job, "Warning", "FailedCreate", f"Error creating: {s.error}")
        return created

    async def _delete_pods(self, s: _Sync, pods: list[Obj]) -> tuple[int, int]:
        """Delete pods the Job no longer wants (excess, or suspended): not counted, so the finalizer goes
        first. Returns how many were deleted, and how many of those were ready."""
        key, job = s.key, s.job
        self.expectations.expect_deletions(key, [object_key(p) for p in pods])

        async def one(pod: Obj) -> bool:
            try:
                await self._remove_finalizer(pod)
                await self.client.delete(PODS, pod["metadata"]["name"], pod["metadata"]["namespace"],
                                         preconditions={"uid": pod["metadata"]["uid"]})
            except errors.NotFound:
                self.expectations.deletion_observed(key, object_key(pod))
                return True
            except errors.ApiError as exc:
                self.expectations.deletion_observed(key, object_key(pod))
                s.error = s.error or exc
                return False
            await self.recorder.record(job, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
            return True

        results = await asyncio.gather(*(one(p) for p in pods))
        return sum(results), sum(1 for p, ok in zip(pods, results, strict=True) if ok and podutil.is_ready(p))

    async def _delete_active(self, job: Obj, pods: list[Obj]) -> tuple[int, int, BaseException | None]:
        """Delete the active pods of a Job that is failing, keeping their finalizers: they are counted
        as failed before the finalizer goes."""
        async def one(pod: Obj) -> BaseException | None:
            try:
                await self.client.delete(PODS, pod["metadata"]["name"], pod["metadata"]["namespace"],
                                         preconditions={"uid": pod["metadata"]["uid"]})
            except errors.NotFound:
                return None
            except errors.ApiError as exc:
                return exc
            await self.recorder.record(job, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
            return None

        results = await asyncio.gather(*(one(p) for p in pods))
        failures = [r for r in results if r is not None]
        ok = [p for p, r in zip(pods, results, strict=True) if r is None]
        return len(ok), sum(1 for p in ok if podutil.is_ready(p)), failures[0] if failures else None

    async def _remove_finalizer(self, pod: Obj) -> None:
        if not has_finalizer(pod):
            return
        patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}}
        await self.client.patch(PODS, pod["metadata"]["name"], patch, pod["metadata"]["namespace"],
                                patch_type="strategic")

    # ------------------------------------------------------------------ counting (trackJobStatusAndRemoveFinalizers)

    async def _track(self, s: _Sync, needs_flush: bool) -> None:
        """Record finished pods as uncounted, remove their finalizers, then count them; finish the Job when
        nothing is left uncounted or terminating."""
        job, status = s.job, s.status
        uncounted = status["uncountedTerminatedPods"]
        indexed = job["spec"].get("completionMode") == "Indexed"
        completions = int(job["spec"].get("completions") or 0)
        pods = sorted(s.pods, key=_index_or_minus_one) if indexed else s.pods
        with_finalizer = {p["metadata"]["uid"] for p in pods
                          if has_finalizer(p) and p["metadata"]["uid"] not in self._removing}
        needs_flush = self._count_removed(status, with_finalizer) or needs_flush
        to_release: list[Obj] = []
        reached_max = False
        failing = s.finished is not None and s.finished["type"] != "SuccessCriteriaMet"
        for pod in pods:
            uid = pod["metadata"]["uid"]
            if uid not in with_finalizer:
                continue  # counted in an earlier sync
            failed = is_pod_failed(pod, job)
            phase = (pod.get("status") or {}).get("phase")
            if not (job["metadata"].get("deletionTimestamp") or s.finished is not None
                    or phase == "Succeeded" or failed):
                continue
            to_release.append(pod)
            index = jobutil.completion_index(pod)
            if phase == "Succeeded" and uid not in uncounted["failed"]:
                if indexed:
                    needs_flush = needs_flush or (index is not None and index < completions
                                                  and index not in s.prev_indexes)
                elif uid not in uncounted["succeeded"]:
                    uncounted["succeeded"].append(uid)
                    needs_flush = True
            elif (failed or failing) and uid not in uncounted["failed"] and (
                    not indexed or (index is not None and index < completions)):
                uncounted["failed"].append(uid)
                needs_flush = True
            if len(uncounted["succeeded"]) + len(uncounted["failed"]) >= MAX_UNCOUNTED:
                reached_max = True
                break
        if indexed:
            text = jobutil.format_indexes(s.succeeded_indexes)
            if text != (status.get("completedIndexes") or ""):
                needs_flush = True
            status["completedIndexes"] = text
            status["succeeded"] = len(s.succeeded_indexes)
        conditions = status.setdefault("conditions", [])
        if s.finished is not None and s.finished["type"] == "FailureTarget":
            conditions.append(s.finished)  # the verdict is written before any finalizer is removed
            needs_flush = True
            s.finished = jobutil.new_condition("Failed", "True", s.finished["reason"], s.finished["message"])
        if s.finished is not None and s.finished["type"] == "SuccessCriteriaMet":
            if self._condition_true(status, "SuccessCriteriaMet") is None:
                conditions.append(s.finished)
                needs_flush = True
            s.finished = jobutil.new_condition("Complete", "True", s.finished["reason"], s.finished["message"])

        # 1. flush the uncounted uids (and interim conditions); 2. remove finalizers; 3. count.
        if needs_flush:
            job = await self._write_status(s.key, job, status)
            self._backoffs[s.key] = s.backoff
            needs_flush = False
        release_error: BaseException | None = None
        if to_release:
            self._removing.update(p["metadata"]["uid"] for p in to_release)
            results = await asyncio.gather(*(self._remove_finalizer(p) for p in to_release), return_exceptions=True)
            for pod, result in zip(to_release, results, strict=True):
                uid = pod["metadata"]["uid"]
                if result is None or isinstance(result, errors.NotFound):
                    with_finalizer.discard(uid)
                else:
                    self._removing.discard(uid)
                    release_error = release_error or result
        if self._count_removed(status, with_finalizer):
            needs_flush = True
        if release_error is not None:
            if needs_flush:
                await self._write_status(s.key, job, status)
            raise release_error
        finished = not reached_max and self._enact_finished(s)
        if finished or needs_flush:
            await self._write_status(s.key, job, status)
        if finished and s.finished is not None:
            if s.finished["type"] == "Complete":
                completions_spec = job["spec"].get("completions")
                if completions_spec is not None and int(status.get("succeeded") or 0) > int(completions_spec):
                    await self.recorder.record(job, "Warning", "TooManySucceededPods",
                                               "Too many succeeded pods running after completion count reached")
                await self.recorder.record(job, "Normal", "Completed", "Job completed")
            else:
                await self.recorder.record(job, "Warning", s.finished["reason"], s.finished["message"])
            ttl = job["spec"].get("ttlSecondsAfterFinished")
            if ttl is not None:
                self.queue.add_after(s.key, float(ttl) + 0.05)

    @staticmethod
    def _count_removed(status: Obj, with_finalizer: set[str]) -> bool:
        """Move uids whose pods no longer hold the finalizer (or are gone) from uncounted to the counters."""
        uncounted = status["uncountedTerminatedPods"]
        changed = False
        for kind in ("succeeded", "failed"):
            keep = [uid for uid in uncounted[kind] if uid in with_finalizer]
            if len(keep) != len(uncounted[kind]):
                status[kind] = int(status.get(kind) or 0) + len(uncounted[kind]) - len(keep)
                uncounted[kind] = keep
                changed = True
        return changed

    def _enact_finished(self, s: _Sync) -> bool:
        """Write Complete or Failed once every finished pod is counted and none is still terminating."""
        if s.finished is None:
            return False
        uncounted = s.status["uncountedTerminatedPods"]
        if uncounted["succeeded"] or uncounted["failed"] or s.terminating > 0:
            return False
        now = self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        jobutil.ensure_condition(s.status.setdefault("conditions", []), s.finished["type"], "True",
                                 s.finished.get("reason", ""), s.finished.get("message", ""), now)
        if s.finished["type"] == "Complete":
            s.status["completionTime"] = now
        return True

    async def _write_status(self, key: str, job: Obj, status: Obj) -> Obj:
        """PUT the status with the resourceVersion we read: a Job changed meanwhile makes it a Conflict."""
        result = await self.client.replace_status(JOBS, {**job, "status": status_for_write(status)})
        self._written[key] = int(result["metadata"].get("resourceVersion") or 0)
        result.setdefault("kind", job.get("kind", "Job"))
        result.setdefault("apiVersion", job.get("apiVersion", "batch/v1"))
        return result

    # ------------------------------------------------------------------ ttlSecondsAfterFinished

    async def _expire(self, key: str, job: Obj) -> None:
        """Delete a finished Job whose ttlSecondsAfterFinished has passed (Background propagation)."""
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        if ttl is None or job["metadata"].get("deletionTimestamp"):
            return
        finished_at = jobutil.finish_time(job)
        if finished_at is None:
            return
        left = float(ttl) - (self.clock() - finished_at).total_seconds()
        if left > 0:
            self.queue.add_after(key, left + 0.05)
            return
        meta = job["metadata"]
        try:  # the cache may hold an older ttl: decide on a fresh read, as the TTL controller does
            fresh = await self.client.get(JOBS, meta["name"], meta["namespace"])
        except errors.NotFound:
            return
        fresh_ttl = fresh["spec"].get("ttlSecondsAfterFinished")
        fresh_at = jobutil.finish_time(fresh)
        if fresh_ttl is None or fresh_at is None or fresh["metadata"].get("deletionTimestamp"):
            return
        left = float(fresh_ttl) - (self.clock() - fresh_at).total_seconds()
        if left > 0:
            self.queue.add_after(key, left + 0.05)
            return
        self.log.info("job %s: deleting, %ss after it finished", key, fresh_ttl)
        try:
            await self.client.delete(JOBS, meta["name"], meta["namespace"], propagation_policy="Background",
                                     preconditions={"uid": fresh["metadata"]["uid"],
                                                    "resourceVersion": fresh["metadata"]["resourceVersion"]})
        except errors.NotFound:
            return
