"""NodePorts: a pod asking for a hostPort fits only nodes where no placed pod holds the same protocol and port on
an overlapping address (0.0.0.0 overlaps everything)."""

from __future__ import annotations

from typing import Any, ClassVar

from scheduler.framework import SKIP, CycleState, Event, Handle, NodeInfo, PodInfo, Status
from scheduler.plugins import names

REASON = "node(s) didn't have free ports for the requested pod ports"


class NodePorts:
    name: ClassVar[str] = names.NODE_PORTS
    events: ClassVar[frozenset[Event]] = frozenset({Event.NODE_ADD, Event.ASSIGNED_POD_DELETE})

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        pass

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None if pod.host_ports else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if node.used_ports and any(node.port_conflict(ip, proto, port) for ip, proto, port in pod.host_ports):
            return Status.unschedulable(REASON)
        return None
