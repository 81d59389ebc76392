"""NodeUnschedulable: cordoned nodes (spec.unschedulable) take no new pods unless the pod tolerates the
`node.kubernetes.io/unschedulable:NoSchedule` taint.

NodeReady (kubelite's own): kube-scheduler never reads node conditions; it relies on the node lifecycle
controller tainting nodes `node.kubernetes.io/not-ready:NoSchedule` (Ready=False or no Ready condition yet) and
`node.kubernetes.io/unreachable:NoSchedule` (Ready=Unknown). kubelite's controller only adds the NoExecute taints,
so this filter applies those NoSchedule taints itself, with kube-scheduler's wording, and honours tolerations.
"""

from __future__ import annotations

from typing import Any, ClassVar

from kube.scheduling import tolerates
from scheduler.framework import SKIP, CycleState, Event, Handle, NodeInfo, PodInfo, Status
from scheduler.plugins import names

UNSCHEDULABLE_REASON = "node(s) were unschedulable"
_UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


class NodeUnschedulable:
    name: ClassVar[str] = names.NODE_UNSCHEDULABLE
    events: ClassVar[frozenset[Event]] = frozenset({Event.NODE_ADD, Event.NODE_SCHEDULABLE, Event.NODE_TAINT})

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.handle = handle

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        if self.handle is not None and not self.handle.cache.unschedulable_nodes:
            return SKIP  # no cordoned node anywhere: nothing to check
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if node.unschedulable and not any(tolerates(t, _UNSCHEDULABLE_TAINT) for t in pod.tolerations):
            return Status.unresolvable(UNSCHEDULABLE_REASON)
        return None


class NodeReady:
    name: ClassVar[str] = names.NODE_READY
    events: ClassVar[frozenset[Event]] = frozenset({Event.NODE_ADD, Event.NODE_CONDITION})

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.handle = handle

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        if self.handle is not None and not self.handle.cache.not_ready_nodes:
            return SKIP  # every node is Ready
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        taint = node.condition_taint
        if taint is None or any(tolerates(t, taint) for t in pod.tolerations):
            return None
        return Status.unresolvable(f"node(s) had untolerated taint {{{taint['key']}: }}")
