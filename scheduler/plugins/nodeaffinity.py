"""NodeAffinity: spec.nodeSelector (every label must match) and
requiredDuringSchedulingIgnoredDuringExecution (nodeSelectorTerms ORed; matchExpressions In/NotIn/Exists/
DoesNotExist/Gt/Lt and matchFields on metadata.name ANDed within a term) filter nodes; preferred terms add their
weight to the score of the nodes they match (normalised so the best gets 100). When every required term names
nodes (matchFields metadata.name In, as DaemonSet pods do), PreFilter narrows the search to those nodes, and the
others report "node(s) didn't satisfy plugin(s) [NodeAffinity]"."""

from __future__ import annotations

from typing import Any, ClassVar

from scheduler.framework import SKIP, CycleState, Event, Handle, NodeInfo, PodInfo, Status
from scheduler.plugins import names
from scheduler.plugins.helpers import default_normalize

REASON = "node(s) didn't match Pod's node affinity/selector"
CONFLICT_REASON = "pod affinity terms conflict"


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
        names = _named_nodes(pod)
        if names is not None:
            if not names:
                return Status.unresolvable(CONFLICT_REASON)
            state.restrict(self.name, names)
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


def _named_nodes(pod: PodInfo) -> set[str] | None:
    """The nodes the required terms name through matchFields metadata.name In (terms ORed, fields ANDed), or
    None when some term does not name nodes (then any node may match)."""
    required = (((pod.pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution")
    if not required:
        return None
    names: set[str] = set()
    for term in required.get("nodeSelectorTerms") or ():
        term_names: set[str] | None = None
        for field in term.get("matchFields") or ():
            if field.get("key") == "metadata.name" and field.get("operator") == "In":
                values = set(field.get("values") or ())
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            return None
        names |= term_names
    return names
