"""NodeAffinity: spec.nodeSelector (every label must match) and
requiredDuringSchedulingIgnoredDuringExecution (nodeSelectorTerms ORed; matchExpressions In/NotIn/Exists/
DoesNotExist/Gt/Lt and matchFields on metadata.name ANDed within a term) filter nodes; preferred terms add their
weight to the score of the nodes they match (normalised so the best gets 100)."""

from __future__ import annotations

from typing import Any, ClassVar

from scheduler.framework import SKIP, CycleState, Event, Handle, NodeInfo, PodInfo, Status
from scheduler.plugins import names
from scheduler.plugins.helpers import default_normalize

REASON = "node(s) didn't match Pod's node affinity/selector"


def required_matches(pod: PodInfo, node: NodeInfo) -> bool:
    """nodeSelector and required node affinity, also used by PodTopologySpread's node inclusion policy."""
    node_labels = node.labels
    for key, value in pod.node_selector.items():
        if node_labels.get(key) != value:
            return False
    return pod.required_node_affinity is None or pod.required_node_affinity.matches(node_labels, node.name)


class NodeAffinity:
    name: ClassVar[str] = names.NODE_AFFINITY
    events: ClassVar[frozenset[Event]] = frozenset({Event.NODE_ADD, Event.NODE_LABEL})

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        pass

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        if not pod.node_selector and pod.required_node_affinity is None:
            return SKIP
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return None if required_matches(pod, node) else Status.unresolvable(REASON)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        return None if pod.preferred_node_affinity else SKIP

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return sum(weight for weight, term in pod.preferred_node_affinity if term.matches(node.labels, node.name))

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int],
                        nodes: list[NodeInfo]) -> None:
        default_normalize(scores)
