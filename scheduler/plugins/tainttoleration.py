"""TaintToleration: a node's NoSchedule and NoExecute taints keep out pods that do not tolerate them (the first
untolerated one is named in the message); PreferNoSchedule taints only lower a node's score, by how many of
them the pod does not tolerate (normalised in reverse: fewest untolerated gets 100)."""

from __future__ import annotations

from typing import Any, ClassVar

from kube.scheduling import tolerates
from scheduler.framework import SKIP, CycleState, Event, Handle, NodeInfo, PodInfo, Status
from scheduler.plugins import names
from scheduler.plugins.helpers import default_normalize


class TaintToleration:
    name: ClassVar[str] = names.TAINT_TOLERATION
    events: ClassVar[frozenset[Event]] = frozenset({Event.NODE_ADD, Event.NODE_TAINT})

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.handle = handle

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        if self.handle is not None and not self.handle.cache.hard_tainted_nodes:
            return SKIP  # no NoSchedule/NoExecute taint anywhere
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        for taint in node.hard_taints:
            if not any(tolerates(t, taint) for t in pod.tolerations):
                return Status.unresolvable(
                    f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value') or ''}}}")
        return None

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if self.handle is not None and not self.handle.cache.nodes_with_prefer_taints():
            return SKIP  # every node would score the same
        if not any(n.prefer_taints for n in nodes):
            return SKIP
        state[self.name] = [t for t in pod.tolerations if (t.get("effect") or "PreferNoSchedule") == "PreferNoSchedule"]
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        tolerations = state[self.name]
        return sum(1 for taint in node.prefer_taints if not any(tolerates(t, taint) for t in tolerations))

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int],
                        nodes: list[NodeInfo]) -> None:
        default_normalize(scores, reverse=True)
