"""The Deployment controller's pure parts (kube-controller-manager's `deployment/util`): template hashes,
revisions and annotations, surge/unavailable arithmetic, proportional scaling and status conditions.

Kept free of I/O so every rule is unit-tested on plain dicts; `controllers.deployment` does the writes.
Numbers and wording follow Kubernetes, because the real `kubectl rollout` reads them.
"""

from __future__ import annotations

import copy
import json
import math
import struct
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from kube import conditions as kconditions
from kube import timeutil

__all__ = [
    "AVAILABLE", "CHANGE_CAUSE", "DESIRED_REPLICAS", "MAX_REPLICAS", "PROGRESSING", "REVISION", "UNIQUE_LABEL",
    "available_count", "calculate_status", "cleanup_victims", "compute_hash", "deployment_complete",
    "equal_ignore_hash", "find_active_or_latest", "find_new", "find_old", "is_saturated", "max_revision",
    "max_surge", "max_unavailable", "new_condition", "new_rs_new_replicas", "new_rs_object", "plan_proportional",
    "plan_reconcile_old", "progress_check_after", "replicas", "resolve_fenceposts",
    "revision", "rollout_status", "safe_encode", "scaled_value", "set_condition", "set_new_rs_annotations",
    "set_replicas_annotations",
]

Obj = dict[str, Any]

UNIQUE_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
_SKIP_COPY = frozenset({
    "kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
})
MAX_REV_HISTORY_CHARS = 2000

AVAILABLE, PROGRESSING, REPLICA_FAILURE = "Available", "Progressing", "ReplicaFailure"
MIN_AVAILABLE, MIN_UNAVAILABLE = "MinimumReplicasAvailable", "MinimumReplicasUnavailable"
RS_UPDATED, RS_CREATE_FAILED = "ReplicaSetUpdated", "ReplicaSetCreateError"
NEW_RS_CREATED, FOUND_NEW_RS, NEW_RS_AVAILABLE = "NewReplicaSetCreated", "FoundNewReplicaSet", "NewReplicaSetAvailable"
TIMED_OUT, PAUSED, RESUMED = "ProgressDeadlineExceeded", "DeploymentPaused", "DeploymentResumed"
MAX_INT32 = 2**31 - 1

# ---------------------------------------------------------------------------------------------- hashing

_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"  # no vowels (no words), no 0/1/3 (look like letters)


def fnv32a(data: bytes, h: int = 0x811C9DC5) -> int:
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """Kubernetes' rand.SafeEncodeString: each character mapped onto letters and digits that spell nothing."""
    return "".join(_ALPHANUMS[ord(c) % len(_ALPHANUMS)] for c in text)


def _semantic(value: Any) -> Any:
    """Drop null and empty values, as Go's semantic equality treats nil and empty alike."""
    if isinstance(value, dict):
        out = {k: _semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def compute_hash(template: Obj, collision_count: int | None = None) -> str:
    """The pod-template-hash: FNV-32a of the template (canonical JSON) then of the collision count, encoded
    as Kubernetes' ComputeHash does (decimal digits through SafeEncodeString)."""
    canonical = json.dumps(_semantic(template), sort_keys=True, separators=(",", ":")).encode()
    h = fnv32a(canonical)
    if collision_count is not None:
        h = fnv32a(struct.pack("<I", collision_count & 0xFFFFFFFF) + b"\0\0\0\0", h)
    return safe_encode(str(h))


def _without_hash(template: Obj | None) -> Obj:
    t = copy.deepcopy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(UNIQUE_LABEL, None)
    return _semantic(t)


def equal_ignore_hash(a: Obj | None, b: Obj | None) -> bool:
    """Same pod template, ignoring the pod-template-hash label (how a ReplicaSet is matched to a template)."""
    return _without_hash(a) == _without_hash(b)


def new_rs_object(d: Obj, pod_hash: str, replicas_: int, annotations: dict[str, str]) -> Obj:
    """The ReplicaSet for the Deployment's current template: deterministic name, hash label in its labels,
    selector and template, controlled by the Deployment."""
    meta = d["metadata"]
    template = copy.deepcopy(d["spec"]["template"])
    template.setdefault("metadata", {})
    template["metadata"]["labels"] = {**(template["metadata"].get("labels") or {}), UNIQUE_LABEL: pod_hash}
    selector = copy.deepcopy(d["spec"].get("selector") or {})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), UNIQUE_LABEL: pod_hash}
    spec: Obj = {"replicas": replicas_, "selector": selector, "template": template}
    if d["spec"].get("minReadySeconds"):
        spec["minReadySeconds"] = d["spec"]["minReadySeconds"]
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{pod_hash}", "namespace": meta["namespace"],
            "labels": dict(template["metadata"]["labels"]), "annotations": annotations,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": meta["name"],
                                 "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": spec,
    }

# ---------------------------------------------------------------------------------------------- arithmetic


def replicas(obj: Obj | None) -> int:
    if obj is None:
        return 0
    value = obj["spec"].get("replicas")
    return 1 if value is None else int(value)


def _status(obj: Obj | None, field: str) -> int:
    return int(((obj or {}).get("status") or {}).get(field) or 0)


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """An int-or-percent against `total` (GetScaledValueFromIntOrPercent): percentages round up or down."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = value.strip()
    if text.endswith("%"):
        pct = int(text[:-1])
        return -(-pct * total // 100) if round_up else pct * total // 100
    return int(text)


def is_rolling_update(d: Obj) -> bool:
    return ((d["spec"].get("strategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate"


def _rolling(d: Obj) -> Obj:
    return (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}


def resolve_fenceposts(surge: int | str | None, unavailable: int | str | None, desired: int) -> tuple[int, int]:
    """maxSurge rounded up, maxUnavailable rounded down; both zero becomes unavailable 1 (surge may be blocked
    by quota, so the rollout must be able to move somehow)."""
    s = scaled_value(surge if surge is not None else 0, desired, True)
    u = scaled_value(unavailable if unavailable is not None else 0, desired, False)
    if s == 0 and u == 0:
        u = 1
    return s, u


def max_surge(d: Obj) -> int:
    if not is_rolling_update(d):
        return 0
    ru = _rolling(d)
    return resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"), replicas(d))[0]


def max_unavailable(d: Obj) -> int:
    if not is_rolling_update(d) or replicas(d) == 0:
        return 0
    ru = _rolling(d)
    return min(resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"), replicas(d))[1], replicas(d))


def replica_count(rss: Iterable[Obj | None]) -> int:
    return sum(replicas(rs) for rs in rss if rs is not None)


def actual_count(rss: Iterable[Obj | None]) -> int:
    return sum(_status(rs, "replicas") for rs in rss if rs is not None)


def available_count(rss: Iterable[Obj | None]) -> int:
    return sum(_status(rs, "availableReplicas") for rs in rss if rs is not None)


def _available_now(rs: Obj) -> int:
    """Available pods an RS will still have once it reaches its spec: a status written before a scale-down
    may count pods being deleted, so cap it at spec.replicas (never scale down on a stale count)."""
    return min(_status(rs, "availableReplicas"), replicas(rs))


def _pods_now(rs: Obj | None) -> int:
    """Pods an RS has or will have: a scale-down is not done until its status shows the pods gone."""
    return max(replicas(rs), _status(rs, "replicas")) if rs is not None else 0


def new_rs_new_replicas(d: Obj, all_rss: list[Obj | None], new_rs: Obj) -> int:
    """How far the new ReplicaSet may grow now (NewRSNewReplicas): up to replicas + maxSurge pods in all."""
    if not is_rolling_update(d):
        return replicas(d)
    surge = scaled_value(_rolling(d).get("maxSurge"), replicas(d), True)
    current = sum(_pods_now(rs) for rs in all_rss)
    max_total = replicas(d) + surge
    if current >= max_total:
        return replicas(new_rs)
    return replicas(new_rs) + min(max_total - current, replicas(d) - replicas(new_rs))


def _plan_cleanup_unhealthy(old_rss: list[Obj], max_cleanup: int) -> list[tuple[Obj, int]]:
    """Old ReplicaSets' unavailable pods may go first: removing them costs no availability."""
    plan: list[tuple[Obj, int]] = []
    total = 0
    for rs in sorted(old_rss, key=by_creation):
        if total >= max_cleanup:
            break
        size = replicas(rs)
        unhealthy = size - _available_now(rs)
        if size == 0 or unhealthy <= 0:
            continue
        count = min(max_cleanup - total, unhealthy)
        plan.append((rs, size - count))
        total += count
    return plan


def _plan_scale_down_old(d: Obj, all_rss: list[Obj], old_rss: list[Obj]) -> list[tuple[Obj, int]]:
    """Scale old ReplicaSets down (oldest first) only as far as keeps replicas - maxUnavailable available."""
    min_available = replicas(d) - max_unavailable(d)
    available = sum(_available_now(rs) for rs in all_rss)
    if available <= min_available:
        return []
    plan: list[tuple[Obj, int]] = []
    total, budget = 0, available - min_available
    for rs in sorted(old_rss, key=by_creation):
        if total >= budget:
            break
        if replicas(rs) == 0:
            continue
        count = min(replicas(rs), budget - total)
        plan.append((rs, replicas(rs) - count))
        total += count
    return plan


def plan_reconcile_old(d: Obj, all_rss: list[Obj], old_rss: list[Obj], new_rs: Obj) -> dict[str, int]:
    """New sizes (by name) for active old ReplicaSets in a rolling update (reconcileOldReplicaSets): first
    their unavailable pods, then available ones while replicas - maxUnavailable stay available, never
    counting on the new ReplicaSet's pods that are not available yet."""
    if replica_count(old_rss) == 0:
        return {}
    min_available = replicas(d) - max_unavailable(d)
    new_unavailable = replicas(new_rs) - _available_now(new_rs)
    budget = replica_count(all_rss) - min_available - new_unavailable
    if budget <= 0:
        return {}
    sizes: dict[str, int] = {}
    current = {rs["metadata"]["name"]: rs for rs in old_rss}
    for rs, size in _plan_cleanup_unhealthy(old_rss, budget):
        sizes[rs["metadata"]["name"]] = size
        current[rs["metadata"]["name"]] = {**rs, "spec": {**rs["spec"], "replicas": size}}
    shrunk = list(current.values())
    for rs, size in _plan_scale_down_old(d, [*shrunk, new_rs], shrunk):
        sizes[rs["metadata"]["name"]] = size
    return sizes

# ---------------------------------------------------------------------------------------------- scaling


def filter_active(rss: Iterable[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def by_creation(rs: Obj) -> tuple[str, str]:
    return rs["metadata"].get("creationTimestamp") or "", rs["metadata"]["name"]


def by_revision(rs: Obj) -> tuple[int, str, str]:
    return (revision(rs), *by_creation(rs))


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    """The one ReplicaSet to give the full count to, when at most one is active."""
    if new_rs is None and not old_rss:
        return None
    newest_first = sorted(old_rss, key=by_creation, reverse=True)
    active = filter_active([*newest_first, new_rs])
    if not active:
        return new_rs if new_rs is not None else newest_first[0]
    return active[0] if len(active) == 1 else None


def _int_annotation(rs: Obj, name: str) -> int | None:
    try:
        return int((rs["metadata"].get("annotations") or {})[name])
    except (KeyError, ValueError):
        return None


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    """The new ReplicaSet has everything: its size, its desired annotation and all of it available."""
    if rs is None:
        return False
    want = replicas(d)
    return replicas(rs) == want and _int_annotation(rs, DESIRED_REPLICAS) == want and \
        _status(rs, "availableReplicas") == want


def _go_round(x: float) -> int:
    """Half away from zero, as Go's math.Round."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def rs_proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
    if replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    if replicas(d) == 0:
        fraction = -replicas(rs)
    else:
        deployment_max = replicas(d) + max_surge(d)
        before = _int_annotation(rs, MAX_REPLICAS) or _status(d, "replicas")
        fraction = _go_round(replicas(rs) * deployment_max / before) - replicas(rs) if before else 0
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def plan_proportional(d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> tuple[dict[str, int], str]:
    """Spread a replicas change over every active ReplicaSet in proportion to its size (mid-rollout scaling):
    new sizes by name, and "up" or "down"."""
    active = filter_active([*old_rss, new_rs])
    current = replica_count(active)
    allowed = replicas(d) + max_surge(d) if replicas(d) > 0 else 0
    to_add = allowed - current
    if to_add > 0:  # bigger first; newer first among equals
        active.sort(key=lambda rs: (-replicas(rs), _neg_time(rs), rs["metadata"]["name"]))
        operation = "up"
    elif to_add < 0:  # bigger first; older first among equals
        active.sort(key=lambda rs: (-replicas(rs), *by_creation(rs)))
        operation = "down"
    else:
        operation = ""
    sizes: dict[str, int] = {}
    added = 0
    for rs in active:
        share = rs_proportion(rs, d, to_add, added) if to_add else 0
        sizes[rs["metadata"]["name"]] = replicas(rs) + share
        added += share
    if active and to_add:
        first = active[0]["metadata"]["name"]
        sizes[first] = max(0, sizes[first] + to_add - added)
    return sizes, operation


def _neg_time(rs: Obj) -> float:
    created = rs["metadata"].get("creationTimestamp")
    return -timeutil.parse(created).timestamp() if created else 0.0

# ---------------------------------------------------------------------------------------------- revisions


def revision(obj: Obj) -> int:
    try:
        return int((obj["metadata"].get("annotations") or {}).get(REVISION) or 0)
    except ValueError:
        return 0


def max_revision(rss: Iterable[Obj]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def find_new(d: Obj, rs_list: list[Obj]) -> Obj | None:
    """The ReplicaSet whose template is the Deployment's (the oldest one, should there be two)."""
    for rs in sorted(rs_list, key=by_creation):
        if equal_ignore_hash(rs["spec"].get("template"), d["spec"].get("template")):
            return rs
    return None


def find_old(d: Obj, rs_list: list[Obj]) -> list[Obj]:
    new = find_new(d, rs_list)
    return [rs for rs in rs_list if new is None or rs["metadata"].get("uid") != new["metadata"].get("uid")]


def set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> bool:
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for name, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(maximum))):
        if annotations.get(name) != value:
            annotations[name] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Obj, desired: int, maximum: int) -> bool:
    annotations = rs["metadata"].get("annotations") or {}
    return annotations.get(DESIRED_REPLICAS) != str(desired) or annotations.get(MAX_REPLICAS) != str(maximum)


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: int, exists: bool) -> bool:
    """Copy the Deployment's annotations (change-cause, ...) onto its new ReplicaSet and raise the RS's
    revision to `new_revision`; a revision replaced by a rollback goes to revision-history."""
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in (d["metadata"].get("annotations") or {}).items():
        if key in _SKIP_COPY or annotations.get(key) == value:
            continue
        annotations[key] = value
        changed = True
    old_text = annotations.get(REVISION)
    try:
        old = int(old_text or 0)
    except ValueError:
        return changed
    if old < new_revision:
        annotations[REVISION] = str(new_revision)
        changed = True
        if old_text:
            history = [h for h in (annotations.get(REVISION_HISTORY) or "").split(",") if h]
            history.append(old_text)
            while history and len(",".join(history)) > MAX_REV_HISTORY_CHARS:
                history.pop(0)
            annotations[REVISION_HISTORY] = ",".join(history)
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


def cleanup_victims(d: Obj, old_rss: list[Obj]) -> list[Obj]:
    """Old ReplicaSets beyond revisionHistoryLimit, oldest revision first, that are scaled to 0 and settled."""
    limit = d["spec"].get("revisionHistoryLimit")
    if limit is None:
        return []
    alive = [rs for rs in old_rss if not rs["metadata"].get("deletionTimestamp")]
    diff = len(alive) - int(limit)
    if diff <= 0:
        return []
    victims = []
    for rs in sorted(alive, key=by_revision)[:diff]:
        settled = int(rs["metadata"].get("generation") or 1) <= _status(rs, "observedGeneration")
        if replicas(rs) == 0 and _status(rs, "replicas") == 0 and settled:
            victims.append(rs)
    return victims

# ---------------------------------------------------------------------------------------------- conditions


def get_condition(status: Obj | None, kind: str) -> Obj | None:
    return kconditions.in_status(status, kind)


def new_condition(kind: str, status: str, reason: str, message: str, now: str | None = None) -> Obj:
    at = now or timeutil.now()
    return {"type": kind, "status": status, "lastUpdateTime": at, "lastTransitionTime": at, "reason": reason,
            "message": message}


def set_condition(status: Obj, condition: Obj) -> None:
    """SetDeploymentCondition: same status and reason is no change; same status keeps lastTransitionTime;
    the condition moves to the end of the list."""
    current = get_condition(status, condition["type"])
    if current is not None and current.get("status") == condition["status"] \
            and current.get("reason") == condition["reason"]:
        return
    condition = {**condition, "lastTransitionTime": kconditions.transition_time(
        current, condition["status"], condition.get("lastTransitionTime") or "")}
    status["conditions"] = [*remove_condition_list(status, condition["type"]), condition]


def remove_condition_list(status: Obj, kind: str) -> list[Obj]:
    return [c for c in status.get("conditions") or [] if c.get("type") != kind]


def remove_condition(status: Obj, kind: str) -> None:
    conditions = remove_condition_list(status, kind)
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)


def has_progress_deadline(d: Obj) -> bool:
    deadline = d["spec"].get("progressDeadlineSeconds")
    return deadline is not None and deadline != MAX_INT32


def calculate_status(all_rss: list[Obj | None], new_rs: Obj | None, d: Obj, now: str | None = None) -> Obj:
    """Counts summed over the ReplicaSets and the Available condition; zeros omitted as Go's omitempty does."""
    rss = [rs for rs in all_rss if rs is not None]
    available = available_count(rss)
    old = d.get("status") or {}
    status: Obj = {
        "observedGeneration": int(d["metadata"].get("generation") or 0),
        "replicas": actual_count(rss),
        "updatedReplicas": actual_count([new_rs]),
        "readyReplicas": sum(_status(rs, "readyReplicas") for rs in rss),
        "availableReplicas": available,
        "unavailableReplicas": max(0, replica_count(rss) - available),
        "terminatingReplicas": sum(_status(rs, "terminatingReplicas") for rs in rss),
    }
    status = {k: v for k, v in status.items() if v}
    if old.get("conditions"):
        status["conditions"] = copy.deepcopy(old["conditions"])
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if available >= replicas(d) - max_unavailable(d):
        set_condition(status, new_condition(AVAILABLE, "True", MIN_AVAILABLE, "Deployment has minimum availability.",
                                            now))
    else:
        set_condition(status, new_condition(AVAILABLE, "False", MIN_UNAVAILABLE,
                                            "Deployment does not have minimum availability.", now))
    return status


def deployment_complete(d: Obj, status: Obj) -> bool:
    want = replicas(d)
    return (status.get("updatedReplicas") or 0) == want and (status.get("replicas") or 0) == want \
        and (status.get("availableReplicas") or 0) == want \
        and (status.get("observedGeneration") or 0) >= int(d["metadata"].get("generation") or 0)


def deployment_progressing(d: Obj, status: Obj) -> bool:
    """Any step forward since the last status: more updated, fewer old, more ready or more available pods."""
    old = d.get("status") or {}

    def get(s: Obj, k: str) -> int:
        return int(s.get(k) or 0)

    old_pods = get(old, "replicas") - get(old, "updatedReplicas")
    return get(status, "updatedReplicas") > get(old, "updatedReplicas") \
        or get(status, "replicas") - get(status, "updatedReplicas") < old_pods \
        or get(status, "readyReplicas") > get(old, "readyReplicas") \
        or get(status, "availableReplicas") > get(old, "availableReplicas")


def deployment_timed_out(d: Obj, status: Obj, now: datetime | None = None) -> bool:
    if not has_progress_deadline(d):
        return False
    condition = get_condition(status, PROGRESSING)
    if condition is None or condition.get("reason") == NEW_RS_AVAILABLE:
        return False
    if condition.get("reason") == TIMED_OUT:
        return True
    since = condition.get("lastUpdateTime")
    if not since:
        return False
    elapsed = ((now or datetime.now(timeutil.parse(since).tzinfo)) - timeutil.parse(since)).total_seconds()
    return elapsed > int(d["spec"]["progressDeadlineSeconds"])


def replica_failures(all_rss: list[Obj | None], new_rs: Obj | None) -> list[Obj]:
    def failures(rs: Obj | None) -> list[Obj]:
        return [{"type": REPLICA_FAILURE, "status": c.get("status"),
                 "lastUpdateTime": c.get("lastTransitionTime"), "lastTransitionTime": c.get("lastTransitionTime"),
                 "reason": c.get("reason"), "message": c.get("message")}
                for c in ((rs or {}).get("status") or {}).get("conditions") or []
                if c.get("type") == REPLICA_FAILURE]

    found = failures(new_rs)
    return found or [c for rs in all_rss for c in failures(rs)]


def rollout_status(d: Obj, all_rss: list[Obj | None], new_rs: Obj | None, now: str | None = None,
                   clock: datetime | None = None) -> Obj:
    """The status syncRolloutStatus writes: counts, Available, and Progressing estimated against the
    progress deadline (complete, progressing, or timed out), plus any ReplicaFailure."""
    now = now or timeutil.now()
    status = calculate_status(all_rss, new_rs, d, now)
    if not has_progress_deadline(d):
        remove_condition(status, PROGRESSING)
    current = get_condition(d.get("status"), PROGRESSING)
    already_complete = status.get("replicas", 0) == status.get("updatedReplicas", 0) and current is not None \
        and current.get("reason") == NEW_RS_AVAILABLE
    if has_progress_deadline(d) and not already_complete:
        name = f'ReplicaSet "{new_rs["metadata"]["name"]}"' if new_rs else f'Deployment "{d["metadata"]["name"]}"'
        if deployment_complete(d, status):
            set_condition(status, new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE,
                                                f"{name} has successfully progressed.", now))
        elif deployment_progressing(d, status):
            condition = new_condition(PROGRESSING, "True", RS_UPDATED, f"{name} is progressing.", now)
            if current is not None and current.get("status") == "True":
                condition["lastTransitionTime"] = current.get("lastTransitionTime")
            status["conditions"] = [*remove_condition_list(status, PROGRESSING), condition]
        elif deployment_timed_out(d, status, clock):
            set_condition(status, new_condition(PROGRESSING, "False", TIMED_OUT,
                                                f"{name} has timed out progressing.", now))
    failures = replica_failures(all_rss, new_rs)
    if failures:
        set_condition(status, failures[0])
    else:
        remove_condition(status, REPLICA_FAILURE)
    return status


def progress_check_after(d: Obj, status: Obj, clock: datetime | None = None) -> float | None:
    """Seconds until a stuck rollout should be looked at again for its deadline (requeueStuckDeployment)."""
    current = get_condition(d.get("status"), PROGRESSING)
    if not has_progress_deadline(d) or current is None:
        return None
    if deployment_complete(d, status) or current.get("reason") == TIMED_OUT or not current.get("lastUpdateTime"):
        return None
    since = timeutil.parse(current["lastUpdateTime"])
    elapsed = ((clock or datetime.now(since.tzinfo)) - since).total_seconds()
    return max(0.0, int(d["spec"]["progressDeadlineSeconds"]) - elapsed) + 1.0
