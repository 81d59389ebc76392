"""Nodes that are cordoned (spec.unschedulable) or not Ready take no new pods."""

from __future__ import annotations

from typing import Any

from scheduler.framework import SUCCESS, NodeInfo, Status

Obj = dict[str, Any]


def _tolerates_unschedulable(pod: Obj) -> bool:
    for t in (pod.get("spec") or {}).get("tolerations") or []:
        if t.get("key") == "node.kubernetes.io/unschedulable" and t.get("operator") == "Exists":
            return True
    return False


class NodeUnschedulable:
    name = "NodeUnschedulable"

    def filter(self, pod: Obj, node: NodeInfo) -> Status:
        if (node.node.get("spec") or {}).get("unschedulable") and not _tolerates_unschedulable(pod):
            return Status.unschedulable("node(s) were unschedulable")
        return SUCCESS


class NodeReady:
    """Until the node lifecycle controller taints NotReady nodes, the scheduler reads the condition itself."""

    name = "NodeReady"

    def filter(self, pod: Obj, node: NodeInfo) -> Status:
        for cond in (node.node.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Ready":
                return SUCCESS if cond.get("status") == "True" else Status.unschedulable("node(s) were not ready")
        return Status.unschedulable("node(s) were not ready")
