"""A pod that names a node in spec.nodeName fits only that node."""

from __future__ import annotations

from typing import Any

from scheduler.framework import SUCCESS, NodeInfo, Status


class NodeName:
    name = "NodeName"

    def filter(self, pod: dict[str, Any], node: NodeInfo) -> Status:
        wanted = (pod.get("spec") or {}).get("nodeName")
        if wanted and wanted != node.name:
            return Status.unschedulable("node(s) didn't match the requested node name")
        return SUCCESS
