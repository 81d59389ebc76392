"""spec.nodeSelector: every listed label must be on the node."""

from __future__ import annotations

from typing import Any

from scheduler.framework import SUCCESS, NodeInfo, Status


class NodeSelector:
    name = "NodeAffinity"

    def filter(self, pod: dict[str, Any], node: NodeInfo) -> Status:
        selector = (pod.get("spec") or {}).get("nodeSelector") or {}
        labels = node.node["metadata"].get("labels") or {}
        if any(labels.get(k) != v for k, v in selector.items()):
            return Status.unschedulable("node(s) didn't match Pod's node affinity/selector")
        return SUCCESS
