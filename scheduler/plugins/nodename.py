"""NodeName: a pod that names a node in spec.nodeName fits only that node."""

from __future__ import annotations

from typing import Any, ClassVar

from scheduler.framework import SKIP, CycleState, Event, Handle, NodeInfo, PodInfo, Status
from scheduler.plugins import names

REASON = "node(s) didn't match the requested node name"


class NodeName:
    name: ClassVar[str] = names.NODE_NAME
    events: ClassVar[frozenset[Event]] = frozenset({Event.NODE_ADD})

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        pass

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None if pod.node_name else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if pod.node_name and pod.node_name != node.name:
            return Status.unresolvable(REASON)
        return None
