"""The columns users know from `kubectl get`, per kind: one definition used by the apiserver's Table
responses (what the real kubectl prints) and by `klite`.

Each column is (name, type, priority, cell function); priority 1 columns show only with `-o wide`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kube import timeutil

__all__ = ["Column", "columns_for", "node_status", "pod_ready", "pod_restarts", "pod_status"]

Obj = dict[str, Any]


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string | integer | date (kubectl's column types)
    priority: int
    cell: Callable[[Obj], Any]
    format: str = ""
    description: str = ""


def _name(obj: Obj) -> str:
    return obj["metadata"]["name"]


def _age(obj: Obj) -> str:
    return timeutil.age(obj["metadata"].get("creationTimestamp"))


NAME = Column("Name", "string", 0, _name, "name", "Name must be unique within a namespace.")
AGE = Column("Age", "string", 0, _age, "", "CreationTimestamp is the time the object was created.")


# ---------------------------------------------------------------- pods

def pod_status(pod: Obj) -> str:
    """The STATUS column of `kubectl get pods` (kubectl's printPod logic)."""
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    spec = pod.get("spec") or {}
    init_total = len(spec.get("initContainers") or [])
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode") == 0:
            continue
        if term:
            reason = f"Init:{term.get('reason') or 'ExitCode:' + str(term.get('exitCode'))}"
        elif wait and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = f"Init:{wait['reason']}"
        else:
            reason = f"Init:{i}/{init_total}"
        initializing = True
        break
    if not initializing:
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            wait, term = state.get("waiting"), state.get("terminated")
            if wait and wait.get("reason"):
                reason = wait["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term:
                reason = f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode')}"
            elif state.get("running") and cs.get("ready"):
                has_running = True
        if reason == "Completed" and has_running:
            reason = "Running"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason


def pod_ready(pod: Obj) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    return f"{sum(1 for cs in statuses if cs.get('ready'))}/{total}"


def pod_restarts(pod: Obj) -> int:
    return sum(int(cs.get("restartCount") or 0) for cs in (pod.get("status") or {}).get("containerStatuses") or [])


POD_COLUMNS = [
    NAME,
    Column("Ready", "string", 0, pod_ready, "", "The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", "string", 0, pod_status, "", "The aggregate status of the containers in this pod."),
    Column("Restarts", "string", 0, pod_restarts, "", "The number of times the containers in this pod restarted."),
    AGE,
    Column("IP", "string", 1, lambda p: (p.get("status") or {}).get("podIP") or "<none>", "",
           "IP address allocated to the pod."),
    Column("Node", "string", 1, lambda p: (p.get("spec") or {}).get("nodeName") or "<none>", "",
           "Name of the Node this pod runs on."),
    Column("Nominated Node", "string", 1,
           lambda p: (p.get("status") or {}).get("nominatedNodeName") or "<none>", "", "Nominated node."),
    Column("Readiness Gates", "string", 1,
           lambda p: ", ".join(g.get("conditionType", "") for g in (p.get("spec") or {}).get("readinessGates") or [])
           or "<none>", "", "Readiness gates."),
]


# ---------------------------------------------------------------- nodes

def node_status(node: Obj) -> str:
    ready = "Unknown"
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            ready = {"True": "Ready", "False": "NotReady"}.get(cond.get("status"), "Unknown")
    if (node.get("spec") or {}).get("unschedulable"):
        ready += ",SchedulingDisabled"
    return ready


def _node_roles(node: Obj) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = sorted(k[len(prefix):] for k in node["metadata"].get("labels") or {} if k.startswith(prefix))
    return ",".join(r for r in roles if r) or "<none>"


def _node_address(kind: str) -> Callable[[Obj], str]:
    def cell(node: Obj) -> str:
        for addr in (node.get("status") or {}).get("addresses") or []:
            if addr.get("type") == kind:
                return addr.get("address", "<none>")
        return "<none>"

    return cell


def _node_info(field: str) -> Callable[[Obj], str]:
    return lambda n: ((n.get("status") or {}).get("nodeInfo") or {}).get(field) or "<unknown>"


NODE_COLUMNS = [
    NAME,
    Column("Status", "string", 0, node_status, "", "The status of the node"),
    Column("Roles", "string", 0, _node_roles, "", "The roles of the node"),
    AGE,
    Column("Version", "string", 0, _node_info("kubeletVersion"), "", "Kubelet Version reported by the node."),
    Column("Internal-IP", "string", 1, _node_address("InternalIP"), "", "Internal IP of the node."),
    Column("External-IP", "string", 1, _node_address("ExternalIP"), "", "External IP of the node."),
    Column("OS-Image", "string", 1, _node_info("osImage"), "", "OS image reported by the node."),
    Column("Kernel-Version", "string", 1, _node_info("kernelVersion"), "", "Kernel version reported by the node."),
    Column("Container-Runtime", "string", 1, _node_info("containerRuntimeVersion"), "",
           "Container runtime version reported by the node."),
]


# ---------------------------------------------------------------- other core kinds

NAMESPACE_COLUMNS = [
    NAME,
    Column("Status", "string", 0, lambda n: (n.get("status") or {}).get("phase") or "Active", "",
           "The status of the namespace"),
    AGE,
]


def _event_object(ev: Obj) -> str:
    ref = ev.get("involvedObject") or {}
    return f"{(ref.get('kind') or '').lower()}/{ref.get('name', '')}"


EVENT_COLUMNS = [
    Column("Last Seen", "string", 0,
           lambda e: timeutil.age(e.get("lastTimestamp") or e.get("eventTime")
                                  or e["metadata"].get("creationTimestamp")),
           "", "Time when last event occurred."),
    Column("Type", "string", 0, lambda e: e.get("type") or "", "", "Type of this event."),
    Column("Reason", "string", 0, lambda e: e.get("reason") or "", "", "Reason why this event was generated."),
    Column("Object", "string", 0, _event_object, "", "The object this event is about."),
    Column("Message", "string", 0, lambda e: (e.get("message") or "").strip(), "", "A human-readable message."),
]

LEASE_COLUMNS = [
    NAME,
    Column("Holder", "string", 0, lambda lease: (lease.get("spec") or {}).get("holderIdentity") or "", "",
           "The holder of the lease."),
    AGE,
]

_BY_KIND: dict[str, list[Column]] = {
    "Pod": POD_COLUMNS,
    "Node": NODE_COLUMNS,
    "Namespace": NAMESPACE_COLUMNS,
    "Event": EVENT_COLUMNS,
    "Lease": LEASE_COLUMNS,
}


def columns_for(kind: str) -> list[Column]:
    """The kind's columns; NAME and AGE for kinds without their own."""
    return _BY_KIND.get(kind, [NAME, AGE])
