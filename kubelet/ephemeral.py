"""Ephemeral containers (`kubectl debug`): what the pod worker starts for them and how their status reads.

An ephemeral container is added to a running pod through pods/ephemeralcontainers. As on Kubernetes
(kuberuntime_manager's computePodActions and ephemeralContainerStartSpec), it is started once in the pod's
running sandbox — its network and IPC namespaces, the pod's volumes as its volumeMounts ask — and, with a
`targetContainerName`, in that container's PID namespace, so `ps` shows the target's processes. It is never
restarted, never probed, and counts toward neither the pod's phase nor its readiness; its state is reported
in `status.ephemeralContainerStatuses`. `kubelet.pods` drives it; `kubelet.launch` builds its arguments.
"""

from __future__ import annotations

from typing import Any

from kubelet.runtime import RuntimeContainer
from kubelet.status import Waiting

__all__ = ["is_ephemeral", "namespaces", "status", "to_start"]

Obj = dict[str, Any]


def is_ephemeral(pod: Obj, name: str) -> bool:
    return any(c["name"] == name for c in pod["spec"].get("ephemeralContainers") or [])


def to_start(pod: Obj, history: dict[str, list[RuntimeContainer]], waiting: dict[str, Waiting]
             ) -> list[tuple[Obj, RuntimeContainer | None]]:
    """The ephemeral containers to start now, each with its target's running container (None: no target).

    Only those never created: whatever became of one (exited, failed to start) is final. One whose target
    does not run yet waits, with the reason in `waiting`, for a later sync."""
    out: list[tuple[Obj, RuntimeContainer | None]] = []
    for spec in pod["spec"].get("ephemeralContainers") or []:
        if history.get(spec["name"]):
            continue
        target_name = spec.get("targetContainerName")
        if not target_name:
            out.append((spec, None))
            continue
        instances = history.get(target_name) or []
        if not instances:
            waiting[spec["name"]] = Waiting("CreateContainerConfigError",
                                            f"unable to find target container {target_name}")
        elif not instances[0].running:
            waiting[spec["name"]] = Waiting("ContainerCreating", f"target container {target_name} is not running")
        else:
            out.append((spec, instances[0]))
    return out


def namespaces(pod: Obj, target: RuntimeContainer | None) -> Obj:
    """Docker arguments for the namespaces beyond the pod's: the target's PID namespace. A pod sharing its
    process namespace (or the host's) has the target in that one already."""
    spec = pod["spec"]
    if target is None or spec.get("hostPID") or spec.get("shareProcessNamespace"):
        return {}
    return {"pid_mode": f"container:{target.id}"}


def status(entry: Obj) -> Obj:
    """An ephemeralContainerStatuses entry from a container status: never ready, and without `started`,
    which only probed (regular and init) containers report."""
    out = {k: v for k, v in entry.items() if k != "started"}
    out["ready"] = False
    return out
