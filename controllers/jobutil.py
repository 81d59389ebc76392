"""Job facts the Job and CronJob controllers share: conditions, finished state, completion indexes, pod
finish times and the pod-failure back-off.

Pure functions over plain dicts, so both controllers (and their unit tests) read Jobs the same way
Kubernetes' `pkg/controller/job/util` and `backoff_utils.go` do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kube import conditions as kconditions
from kube import timeutil

__all__ = [
    "COMPLETION_INDEX_ANNOTATION", "CRONJOB_SCHEDULED_ANNOTATION", "TRACKING_FINALIZER", "BackoffRecord",
    "completion_index", "ensure_condition", "find_condition", "finish_time", "finished_condition",
    "format_indexes", "is_finished", "is_succeeded", "new_condition", "parse_indexes", "pod_finished_time",
]

Obj = dict[str, Any]

#: held on every pod a Job creates until the controller has counted it (Kubernetes' job-tracking finalizer)
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
CRONJOB_SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"


# ---------------------------------------------------------------------- conditions


def new_condition(ctype: str, status: str, reason: str, message: str, now: str | None = None) -> Obj:
    at = now or timeutil.now()
    return {"type": ctype, "status": status, "reason": reason, "message": message,
            "lastProbeTime": at, "lastTransitionTime": at}


def find_condition(status: Obj | None, ctype: str) -> Obj | None:
    return kconditions.in_status(status, ctype)


def ensure_condition(conditions: list[Obj], ctype: str, status: str, reason: str, message: str,
                     now: str | None = None) -> bool:
    """Set a condition in place (Kubernetes' ensureJobConditionStatus): a new False one is not added."""
    for i, c in enumerate(conditions):
        if c.get("type") == ctype:
            if (c.get("status"), c.get("reason") or "", c.get("message") or "") != (status, reason, message):
                conditions[i] = new_condition(ctype, status, reason, message, now)
                return True
            return False
    if status != "False":
        conditions.append(new_condition(ctype, status, reason, message, now))
        return True
    return False


def finished_condition(job: Obj) -> Obj | None:
    """The Complete or Failed condition that is True, if any: only these make a Job finished."""
    return next((c for c in (job.get("status") or {}).get("conditions") or []
                 if c.get("type") in ("Complete", "Failed") and c.get("status") == "True"), None)


def is_finished(job: Obj) -> bool:
    return finished_condition(job) is not None


def is_succeeded(job: Obj) -> bool:
    condition = finished_condition(job)
    return condition is not None and condition["type"] == "Complete"


def finish_time(job: Obj) -> datetime | None:
    """When the Job finished: its completionTime, else the finishing condition's transition time."""
    status = job.get("status") or {}
    if status.get("completionTime"):
        return timeutil.parse(status["completionTime"])
    condition = finished_condition(job)
    if condition and condition.get("lastTransitionTime"):
        return timeutil.parse(condition["lastTransitionTime"])
    return None


# ---------------------------------------------------------------------- completion indexes


def completion_index(pod: Obj) -> int | None:
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(COMPLETION_INDEX_ANNOTATION)
    try:
        index = int(value) if value is not None else -1
    except ValueError:
        return None
    return index if index >= 0 else None


def parse_indexes(text: str | None, completions: int) -> set[int]:
    """`status.completedIndexes` ("1,3-5,7") as a set, ignoring anything at or beyond `completions`."""
    found: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        first, _, last = part.partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError:
            continue
        found.update(range(max(lo, 0), min(hi, completions - 1) + 1))
    return found


def format_indexes(indexes: set[int]) -> str:
    """The interval form Kubernetes writes: each run of consecutive indexes as `first-last`, a lone one alone."""
    parts: list[str] = []
    ordered = sorted(indexes)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


# ---------------------------------------------------------------------- pod finish times and back-off


def pod_finished_time(pod: Obj) -> datetime:
    """When a pod finished (backoff_utils.go getFinishedTime): the last container's finishedAt when all
    terminated, else when Ready turned False, else its deletion time less the grace period, else creation."""
    status = pod.get("status") or {}
    latest: datetime | None = None
    statuses = status.get("containerStatuses") or []
    for cs in statuses:
        finished = ((cs.get("state") or {}).get("terminated") or {}).get("finishedAt")
        if not finished:
            latest = None
            break
        at = timeutil.parse(finished)
        latest = at if latest is None or at > latest else latest
    if latest is not None:
        return latest
    ready = kconditions.find(status.get("conditions"), "Ready")
    if ready and ready.get("status") == "False" and ready.get("lastTransitionTime"):
        return timeutil.parse(ready["lastTransitionTime"])
    meta = pod.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        at = timeutil.parse(meta["deletionTimestamp"])
        return at.fromtimestamp(at.timestamp() - int(meta.get("deletionGracePeriodSeconds") or 0), UTC)
    created = meta.get("creationTimestamp")
    return timeutil.parse(created) if created else datetime.now(UTC)


@dataclass(frozen=True)
class BackoffRecord:
    """Failures since the last success, and when the last of them happened: what delays the next pod."""

    failures: int = 0
    last_failure: datetime | None = None

    def after(self, new_succeeded: list[Obj], new_failed: list[Obj]) -> BackoffRecord:
        """The record once newly finished pods are taken in (backoffStore.newBackoffRecord)."""
        if not new_failed:
            return BackoffRecord() if new_succeeded else self
        failed_times = sorted(pod_finished_time(p) for p in new_failed)
        if not new_succeeded:
            return BackoffRecord(self.failures + len(failed_times), failed_times[-1])
        last_success = max(pod_finished_time(p) for p in new_succeeded)
        later = [t for t in failed_times if t > last_success]
        return BackoffRecord(len(later), later[-1] if later else None)

    def remaining(self, now: datetime, base: float, cap: float) -> float:
        """Seconds to wait before creating a pod again: base, doubled per further failure, capped."""
        if self.failures <= 0 or self.last_failure is None:
            return 0.0
        delay = base
        for _ in range(1, self.failures):
            delay *= 2
            if delay >= cap:
                delay = cap
                break
        elapsed = (now - self.last_failure).total_seconds()
        return max(0.0, delay - elapsed)
