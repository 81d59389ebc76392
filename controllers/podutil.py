"""Pod facts controllers share: active/ready/available, pods from a template, which pods to delete first."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from kube import conditions as kconditions
from kube import timeutil

__all__ = ["deletion_rank", "is_active", "is_available", "is_ready", "pod_from_template"]

Obj = dict[str, Any]


def is_active(pod: Obj) -> bool:
    """Counts toward replicas: not finished and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def _ready_condition(pod: Obj) -> Obj | None:
    return kconditions.in_status(pod.get("status"), "Ready")


def is_ready(pod: Obj) -> bool:
    condition = _ready_condition(pod)
    return bool(condition and condition.get("status") == "True")


def is_available(pod: Obj, min_ready_seconds: int, now: datetime | None = None) -> bool:
    """Ready for at least minReadySeconds (measured from the Ready condition's transition)."""
    condition = _ready_condition(pod)
    if not condition or condition.get("status") != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    since = condition.get("lastTransitionTime")
    if not since:
        return False
    return ((now or datetime.now(UTC)) - timeutil.parse(since)).total_seconds() >= min_ready_seconds


def pod_from_template(template: Obj, owner: Obj, *, name: str | None = None,
                      generate_name: str | None = None) -> Obj:
    """A Pod made from a pod template, controlled by `owner` (which the garbage collector then follows)."""
    meta = copy.deepcopy(template.get("metadata") or {})
    pod_meta: Obj = {
        "labels": meta.get("labels") or {},
        "annotations": meta.get("annotations") or {},
        "namespace": owner["metadata"]["namespace"],
        "ownerReferences": [{
            "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True,
        }],
    }
    if meta.get("finalizers"):
        pod_meta["finalizers"] = meta["finalizers"]
    if name:
        pod_meta["name"] = name
    else:
        pod_meta["generateName"] = generate_name or f"{owner['metadata']['name']}-"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": copy.deepcopy(template["spec"])}


def deletion_rank(pod: Obj) -> tuple:
    """Sort key: pods to delete first sort first (as ReplicaSets choose: unscheduled, then pending, then
    not ready, then the ones that restarted most, then the newest)."""
    status = pod.get("status") or {}
    phase_order = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase") or "Pending", 0)
    restarts = sum(c.get("restartCount", 0) for c in status.get("containerStatuses") or [])
    created = pod["metadata"].get("creationTimestamp")
    return (
        1 if pod["spec"].get("nodeName") else 0,
        phase_order,
        1 if is_ready(pod) else 0,
        -restarts,
        -(timeutil.parse(created).timestamp() if created else 0.0),  # newer first
    )
