"""InterPodAffinity: pod affinity and anti-affinity over any topology key, as kube-scheduler computes them.

Filter (required terms), from counts per (topologyKey, value) gathered once per cycle in PreFilter:
  - the pod's affinity: every term needs a matching pod in the node's domain (a pod matching its own terms may
    start a group when no pod matches anywhere) -> "node(s) didn't match pod affinity rules" (unresolvable);
  - the pod's anti-affinity: no matching pod in the node's domain -> "node(s) didn't match pod anti-affinity
    rules";
  - existing pods' anti-affinity: no pod whose required anti-affinity selects this pod in the node's domain ->
    "node(s) didn't satisfy existing pods anti-affinity rules".
Terms select pods by labelSelector within `namespaces` and/or `namespaceSelector` (default: the pod's own
namespace); matchLabelKeys/mismatchLabelKeys are folded into the selector.

Score: preferred terms of the pod (+/- weight), required affinity of existing pods that select the pod (+1,
hardPodAffinityWeight) and their preferred terms (+/- weight), summed per topology domain, then min-max
normalised to 0-100.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    AffinityTerm,
    CycleState,
    Event,
    Handle,
    NodeInfo,
    PodInfo,
    Status,
)
from scheduler.plugins import names

AFFINITY_REASON = "node(s) didn't match pod affinity rules"
ANTI_AFFINITY_REASON = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY_REASON = "node(s) didn't satisfy existing pods anti-affinity rules"

Pair = tuple[str, str]


class _FilterState:
    __slots__ = ("affinity", "anti_affinity", "existing_anti")

    def __init__(self) -> None:
        self.existing_anti: Counter[Pair] = Counter()  # existing pods' anti-affinity terms that select the pod
        self.affinity: Counter[Pair] = Counter()  # existing pods matching all the pod's affinity terms
        self.anti_affinity: Counter[Pair] = Counter()  # existing pods matching one of the pod's anti-affinity terms

    def clone(self) -> _FilterState:
        out = _FilterState()
        out.existing_anti = Counter(self.existing_anti)
        out.affinity = Counter(self.affinity)
        out.anti_affinity = Counter(self.anti_affinity)
        return out


def _bump(counts: Counter[Pair], pair: Pair, delta: int) -> None:
    counts[pair] += delta
    if counts[pair] == 0:
        del counts[pair]


class InterPodAffinity:
    name: ClassVar[str] = names.INTER_POD_AFFINITY
    events: ClassVar[frozenset[Event]] = frozenset({
        Event.ASSIGNED_POD_ADD, Event.ASSIGNED_POD_DELETE, Event.ASSIGNED_POD_LABEL, Event.NODE_ADD,
        Event.NODE_LABEL, Event.NAMESPACE_LABEL})

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        if handle is None:
            raise ValueError("InterPodAffinity needs a handle")
        self.handle = handle
        self.hard_weight = int((args or {}).get("hardPodAffinityWeight", 1))
        if not 0 <= self.hard_weight <= 100:
            raise ValueError("hardPodAffinityWeight: not in valid range [0-100]")
        self.ignore_existing_preferred = bool((args or {}).get("ignorePreferredTermsOfExistingPods", False))

    # ------------------------------------------------------------------ filter

    def _matches_all(self, pod: PodInfo, terms: list[AffinityTerm]) -> bool:
        ns_labels = self.handle.namespace_labels
        return bool(terms) and all(t.matches(pod, ns_labels) for t in terms)

    def _update(self, s: _FilterState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int) -> None:
        """Count `other` (on `node`) into the state for scheduling `pod`."""
        ns_labels = self.handle.namespace_labels
        node_labels = node.labels
        for term in other.required_anti_affinity:
            value = node_labels.get(term.topology_key)
            if value is not None and term.matches(pod, ns_labels):
                _bump(s.existing_anti, (term.topology_key, value), delta)
        if pod.required_affinity and self._matches_all(other, pod.required_affinity):
            for term in pod.required_affinity:
                value = node_labels.get(term.topology_key)
                if value is not None:
                    _bump(s.affinity, (term.topology_key, value), delta)
        for term in pod.required_anti_affinity:
            value = node_labels.get(term.topology_key)
            if value is not None and term.matches(other, ns_labels):
                _bump(s.anti_affinity, (term.topology_key, value), delta)

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        if pod.parse_error:
            return Status.unresolvable(pod.parse_error)
        cache = self.handle.cache
        incoming = bool(pod.required_affinity or pod.required_anti_affinity)
        anti_nodes = cache.nodes_with_anti_affinity_pods()
        if not incoming and not anti_nodes:
            return SKIP
        s = _FilterState()
        ns_labels = self.handle.namespace_labels
        for node in anti_nodes:
            for other in node.pods.values():
                for term in other.required_anti_affinity:
                    value = node.labels.get(term.topology_key)
                    if value is not None and term.matches(pod, ns_labels):
                        s.existing_anti[(term.topology_key, value)] += 1
        if incoming:
            for node in cache.node_list():
                for other in node.pods.values():
                    if pod.required_affinity and self._matches_all(other, pod.required_affinity):
                        for term in pod.required_affinity:
                            value = node.labels.get(term.topology_key)
                            if value is not None:
                                s.affinity[(term.topology_key, value)] += 1
                    for term in pod.required_anti_affinity:
                        value = node.labels.get(term.topology_key)
                        if value is not None and term.matches(other, ns_labels):
                            s.anti_affinity[(term.topology_key, value)] += 1
        state[self.name] = s
        return None

    def add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo) -> None:
        s = state.get(self.name)
        if s is not None:
            self._update(s, pod, added, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo) -> None:
        s = state.get(self.name)
        if s is not None:
            self._update(s, pod, removed, node, -1)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState = state[self.name]
        node_labels = node.labels
        if pod.required_affinity:
            pods_exist = True
            for term in pod.required_affinity:
                value = node_labels.get(term.topology_key)
                if value is None:
                    return Status.unresolvable(AFFINITY_REASON)  # all topology labels must exist on the node
                if s.affinity.get((term.topology_key, value), 0) <= 0:
                    pods_exist = False
            # The first pod of a group that selects itself may go anywhere its topology keys exist.
            if not pods_exist and not (not s.affinity and self._matches_all(pod, pod.required_affinity)):
                return Status.unresolvable(AFFINITY_REASON)
        for term in pod.required_anti_affinity:
            value = node_labels.get(term.topology_key)
            if value is not None and s.anti_affinity.get((term.topology_key, value), 0) > 0:
                return Status.unschedulable(ANTI_AFFINITY_REASON)
        if s.existing_anti:
            for pair in node_labels.items():
                if s.existing_anti.get(pair, 0) > 0:
                    return Status.unschedulable(EXISTING_ANTI_AFFINITY_REASON)
        return None

    # ------------------------------------------------------------------ score

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        cache = self.handle.cache
        preferred = bool(pod.preferred_affinity or pod.preferred_anti_affinity)
        if not preferred and (self.ignore_existing_preferred or not cache.nodes_with_affinity_pods()):
            return SKIP
        ns_labels = self.handle.namespace_labels
        scores: dict[str, Counter[str]] = {}

        def add(term: AffinityTerm, target: PodInfo, node: NodeInfo, weight: int) -> None:
            value = node.labels.get(term.topology_key)
            if value is not None and weight and term.matches(target, ns_labels):
                scores.setdefault(term.topology_key, Counter())[value] += weight

        for node in cache.node_list() if preferred else cache.nodes_with_affinity_pods():
            if not node.labels:
                continue
            for other in node.pods.values():
                if not preferred and not other.has_affinity:
                    continue
                for term in pod.preferred_affinity:
                    add(term, other, node, term.weight)
                for term in pod.preferred_anti_affinity:
                    add(term, other, node, -term.weight)
                if other.has_affinity:
                    for term in other.required_affinity:
                        add(term, pod, node, self.hard_weight)
                    if not self.ignore_existing_preferred:
                        for term in other.preferred_affinity:
                            add(term, pod, node, term.weight)
                        for term in other.preferred_anti_affinity:
                            add(term, pod, node, -term.weight)
        state[self.name + "/score"] = scores
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        scores: dict[str, Counter[str]] = state[self.name + "/score"]
        total = 0
        for key, values in scores.items():
            value = node.labels.get(key)
            if value is not None:
                total += values.get(value, 0)
        return total

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int],
                        nodes: list[NodeInfo]) -> None:
        if not state[self.name + "/score"] or not scores:
            return
        low, high = min(scores), max(scores)
        diff = high - low
        for i, s in enumerate(scores):
            scores[i] = int(MAX_NODE_SCORE * ((s - low) / diff)) if diff > 0 else 0
