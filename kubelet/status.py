"""A Pod's status computed from what the runtime has — pure functions, unit-tested without Docker.

The pod worker (`kubelet.pods`) lists a pod's containers, decides what to start, and hands this module the
containers plus any "waiting" reasons it chose (CrashLoopBackOff, ErrImagePull, ...). Phase and conditions
follow the kubelet's own rules (`getPhase`, `GeneratePodReadyCondition`), so `kubectl` shows what a
Kubernetes user expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kube import conditions as kconditions
from kubelet.runtime import RuntimeContainer

__all__ = [
    "TERMINAL_PHASES", "Waiting", "build_pod_status", "compute_phase", "container_state", "container_status",
    "init_progress", "is_sidecar", "pod_conditions",
]

Obj = dict[str, Any]

TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class Waiting:
    """Why a container is not running now, as `state.waiting` shows it."""

    reason: str
    message: str = ""


def _waiting(w: Waiting) -> Obj:
    return {"waiting": {"reason": w.reason, **({"message": w.message} if w.message else {})}}


def container_state(rc: RuntimeContainer, message: str = "") -> Obj:
    """The `state` of one runtime container: running, terminated (with Kubernetes' reasons, and `message`:
    what it wrote to its terminationMessagePath) or waiting."""
    if rc.running:
        return {"running": {"startedAt": rc.started_at}} if rc.started_at else {"running": {}}
    if rc.exited:
        if rc.never_started:
            reason, code = "StartError", rc.exit_code or 128
        else:
            reason = "OOMKilled" if rc.oom_killed else ("Completed" if rc.exit_code == 0 else "Error")
            code = rc.exit_code
        term: Obj = {"exitCode": code, "reason": reason}
        if rc.error or message:
            term["message"] = rc.error or message
        if rc.started_at:
            term["startedAt"] = rc.started_at
        if rc.finished_at:
            term["finishedAt"] = rc.finished_at
        term["containerID"] = f"docker://{rc.id}"
        return {"terminated": term}
    return _waiting(Waiting("ContainerCreating"))


def container_status(
    spec: Obj,
    history: list[RuntimeContainer],
    waiting: Waiting | None = None,
    image_ref: str = "",
    *,
    ready: bool | None = None,
    started: bool | None = None,
    messages: dict[str, str] | None = None,
) -> Obj:
    """The containerStatuses entry for `spec`; `history` is that container's runtime containers, newest first.

    `waiting` is the worker's reason for not (re)starting it now; it wins over an exited container, which
    then shows as lastState, as Kubernetes shows a container in CrashLoopBackOff. `ready` and `started`
    are the probes' verdicts for a running container (default: true once running); `messages` the
    termination messages by container id."""
    messages = messages or {}
    latest = history[0] if history else None
    status: Obj = {
        "name": spec["name"],
        "ready": False,
        "restartCount": latest.attempt if latest else 0,
        "image": spec.get("image", ""),
        "imageID": image_ref if latest else "",
        "started": False,
    }
    if latest is None:
        status["state"] = _waiting(waiting or Waiting("ContainerCreating"))
        status["lastState"] = {}
        return status
    status["containerID"] = f"docker://{latest.id}"
    previous = next((c for c in history[1:] if c.exited), None)
    last = container_state(previous, messages.get(previous.id, "")) if previous else {}
    if latest.running:
        status["state"] = container_state(latest)
        status["started"] = True if started is None else started
        status["ready"] = status["started"] and (True if ready is None else ready)
        status["lastState"] = last
    elif waiting is not None and latest.exited:
        status["state"] = _waiting(waiting)
        status["lastState"] = container_state(latest, messages.get(latest.id, ""))
    else:
        status["state"] = container_state(latest, messages.get(latest.id, ""))
        status["lastState"] = last if latest.exited else {}
    return status


def is_sidecar(spec: Obj) -> bool:
    """An init container with restartPolicy Always: started in order, then kept running beside the app."""
    return spec.get("restartPolicy") == "Always"


def init_progress(spec: Obj, init_statuses: list[Obj]) -> tuple[int, int]:
    """(pending, failed) init containers, as getPhase counts them: a sidecar is pending until started; a
    regular init container until it exited 0, and failed when it exited non-zero."""
    by_name = {s["name"]: s for s in init_statuses}
    pending = failed = 0
    for container in spec.get("initContainers") or []:
        status = by_name.get(container["name"]) or {}
        state = status.get("state") or {}
        if is_sidecar(container):
            if not status.get("started"):
                pending += 1
            continue
        if "terminated" in state:
            if state["terminated"].get("exitCode") != 0:
                failed += 1
        elif "waiting" in state and (status.get("lastState") or {}).get("terminated", {}).get("exitCode", 0) != 0:
            failed += 1
        else:
            pending += 1
    return pending, failed


def compute_phase(spec: Obj, statuses: list[Obj], init_statuses: list[Obj] | None = None,
                  initialized: bool | None = None) -> str:
    """The pod phase from its container statuses, as the kubelet's getPhase computes it. Init containers
    count only until the pod is initialized: one that failed under restartPolicy Never fails the pod."""
    policy = spec.get("restartPolicy") or "Always"
    if spec.get("initContainers") and not initialized:
        pending, failed = init_progress(spec, init_statuses or [])
        if failed and policy == "Never":
            return "Failed"
        if pending or failed or initialized is False:
            return "Pending"
    by_name = {s["name"]: s for s in statuses}
    running = waiting = stopped = succeeded = unknown = 0
    for container in spec.get("containers") or []:
        status = by_name.get(container["name"])
        if status is None:
            unknown += 1
            continue
        state = status.get("state") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"].get("exitCode") == 0:
                succeeded += 1
        elif "waiting" in state:
            if "terminated" in (status.get("lastState") or {}):
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1
    if waiting:
        return "Pending"
    if running and not unknown:
        return "Running"
    if not running and stopped and not unknown:
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _condition(ctype: str, ok: bool, old: list[Obj], now: str, reason: str = "", message: str = "") -> Obj:
    status = "True" if ok else "False"
    cond: Obj = {"type": ctype, "status": status,
                 "lastTransitionTime": kconditions.transition_time(kconditions.find(old, ctype), status, now)}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def pod_conditions(pod: Obj, statuses: list[Obj], phase: str, sandbox_ready: bool, now: str,
                   init_statuses: list[Obj] | None = None, initialized: bool = True) -> list[Obj]:
    """PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled (kept as bound).
    Sidecars (restartable init containers) count toward readiness like app containers."""
    old = (pod.get("status") or {}).get("conditions") or []
    sidecars = {c["name"] for c in pod["spec"].get("initContainers") or [] if is_sidecar(c)}
    counted = [*[s for s in init_statuses or [] if s["name"] in sidecars], *statuses]
    unready = [s["name"] for s in counted if not s.get("ready")]
    ready = not unready and bool(statuses) and phase == "Running"
    incomplete = [] if initialized else [
        s["name"] for s in init_statuses or []
        if "terminated" not in (s.get("state") or {}) or s["state"]["terminated"].get("exitCode") != 0]
    if phase in TERMINAL_PHASES or initialized:
        init_reason, init_message = ("PodCompleted", "") if phase in TERMINAL_PHASES else ("", "")
    else:
        init_reason = "ContainersNotInitialized"
        init_message = f"containers with incomplete status: [{' '.join(incomplete)}]"
    if phase in TERMINAL_PHASES:
        reason, message = "PodCompleted", ""
    elif unready:
        reason, message = "ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]"
    else:
        reason, message = "", ""
    scheduled = next((c for c in old if c.get("type") == "PodScheduled"), None)
    return [
        _condition("PodReadyToStartContainers", sandbox_ready, old, now),
        _condition("Initialized", initialized, old, now, init_reason, init_message),
        _condition("Ready", ready, old, now, reason, message),
        _condition("ContainersReady", ready, old, now, reason, message),
        scheduled or _condition("PodScheduled", True, old, now),
    ]


def build_pod_status(
    pod: Obj,
    statuses: list[Obj],
    *,
    pod_ip: str,
    host_ip: str,
    sandbox_ready: bool,
    now: str,
    terminating: bool = False,
    init_statuses: list[Obj] | None = None,
    initialized: bool = True,
    failure: tuple[str, str] | None = None,
    ephemeral_statuses: list[Obj] | None = None,
) -> Obj:
    """The whole status the kubelet owns. A phase never leaves Succeeded/Failed once reached, and a pod
    whose containers were stopped for its deletion ends Succeeded (all exited 0) or Failed, as on
    Kubernetes, so controllers counting finished pods (Jobs) see how it ended. `failure` (reason, message)
    fails the pod outright (activeDeadlineSeconds: DeadlineExceeded). `ephemeral_statuses` (kubelet.ephemeral)
    are reported beside and count for nothing else."""
    old = pod.get("status") or {}
    phase = compute_phase(pod["spec"], statuses, init_statuses, initialized)
    reason, message = failure or (None, None)
    if old.get("phase") in TERMINAL_PHASES:
        phase = old["phase"]
        reason, message = old.get("reason"), old.get("message")
    elif failure is not None:
        phase = "Failed"
    elif terminating and phase not in TERMINAL_PHASES:
        succeeded = all((s.get("state") or {}).get("terminated", {}).get("exitCode") == 0 for s in statuses)
        phase = "Succeeded" if statuses and succeeded else "Failed"
    status: Obj = {
        "phase": phase,
        "conditions": pod_conditions(pod, statuses, phase, sandbox_ready, now, init_statuses, initialized),
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": old.get("startTime") or now,
        "containerStatuses": statuses,
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    if ephemeral_statuses:
        status["ephemeralContainerStatuses"] = ephemeral_statuses
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    pod_ip = pod_ip or old.get("podIP") or ""
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    if old.get("qosClass"):
        status["qosClass"] = old["qosClass"]
    return status
