"""PodTopologySpread: spread matching pods over topology domains (nodes, zones, any node label).

Filter, for constraints with whenUnsatisfiable DoNotSchedule: placing the pod on a node must keep
`matching pods in the node's domain + 1 (if the pod matches) - global minimum <= maxSkew`, where the global
minimum is over eligible domains (0 when there are fewer than minDomains); a node without the topology label is
unresolvable. Eligible nodes follow the node inclusion policies: nodeAffinityPolicy Honor (default: only nodes
matching the pod's nodeSelector/required affinity count) and nodeTaintsPolicy Ignore (default).

Score, for ScheduleAnyway constraints, or when the pod has none, the system default constraints
(hostname maxSkew 3, zone maxSkew 5) over the pods selected by the Services, ReplicaSets and StatefulSets that
select the pod: fewer matching pods in a node's domains scores higher. This is what spreads the replicas of one
app across equal nodes. The arithmetic is kube-scheduler's (count * log(domains + 2) + maxSkew - 1, then
`100 * (max + min - s) / max`).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, ClassVar

from kube import labels as klabels
from kube.scheduling import tolerates
from scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    CycleState,
    Event,
    Handle,
    NodeInfo,
    PodInfo,
    Status,
)
from scheduler.plugins import names
from scheduler.plugins.nodeaffinity import required_matches

REASON = "node(s) didn't match pod topology spread constraints"
MISSING_LABEL_REASON = REASON + " (missing required label)"
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"

SYSTEM_DEFAULT_CONSTRAINTS = (
    {"topologyKey": HOSTNAME, "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 3},
    {"topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 5},
)


class Constraint:
    __slots__ = ("affinity_policy", "key", "max_skew", "memo", "min_domains", "selector", "taints_policy")

    def __init__(self, spec: dict[str, Any], pod_labels: dict[str, str], selector: klabels.Selector | None) -> None:
        self.key: str = spec.get("topologyKey") or ""
        self.max_skew = int(spec.get("maxSkew") or 1)
        self.min_domains = int(spec.get("minDomains") or 1)
        self.affinity_policy = spec.get("nodeAffinityPolicy") or "Honor"
        self.taints_policy = spec.get("nodeTaintsPolicy") or "Ignore"
        if selector is None:
            raw = spec.get("labelSelector")
            selector = None if raw is None else klabels.from_label_selector(raw)
            extra = [klabels.Requirement(k, "In", (pod_labels[k],))
                     for k in spec.get("matchLabelKeys") or () if k in pod_labels]
            if extra and selector is not None:
                selector = klabels.Selector(selector.requirements + tuple(extra))
        self.selector = selector  # None selects nothing
        self.memo: dict[tuple[tuple[str, str], ...], bool] = {}  # label set -> selected, for this cycle

    def matches(self, pod_labels: dict[str, str]) -> bool:
        return self.selector is not None and self.selector.matches(pod_labels)

    def count(self, node: NodeInfo, namespace: str) -> int:
        """Running (not terminating) pods of `namespace` on the node that the selector selects."""
        if self.selector is None or not node.label_groups:
            return 0
        memo, selector = self.memo, self.selector
        total = 0
        for (ns, labels), n in node.label_groups.items():
            if ns != namespace:
                continue
            hit = memo.get(labels)
            if hit is None:
                hit = memo[labels] = selector.matches(dict(labels))
            if hit:
                total += n
        return total

    def includes(self, pod: PodInfo, node: NodeInfo) -> bool:
        """Node inclusion policies."""
        if (self.affinity_policy == "Honor" and (pod.node_selector or pod.required_node_affinity is not None)
                and not required_matches(pod, node)):
            return False
        if self.taints_policy != "Honor" or not node.hard_taints:
            return True
        return not (self.taints_policy == "Honor" and any(
            not any(tolerates(t, taint) for t in pod.tolerations) for taint in node.hard_taints))


class _FilterState:
    __slots__ = ("constraints", "counts", "domains", "minimum")

    def __init__(self, constraints: list[Constraint]) -> None:
        self.constraints = constraints
        self.counts: Counter[tuple[str, str]] = Counter()  # (key, value) -> matching pods
        self.domains: Counter[str] = Counter()  # key -> number of eligible domains
        self.minimum: dict[str, int] = {}

    def recompute_minimum(self) -> None:
        self.minimum = {}
        for (key, _), n in self.counts.items():
            self.minimum[key] = min(self.minimum.get(key, n), n)

    def clone(self) -> _FilterState:
        out = _FilterState(self.constraints)
        out.counts = Counter(self.counts)
        out.domains = self.domains
        out.minimum = dict(self.minimum)
        return out


class PodTopologySpread:
    name: ClassVar[str] = names.POD_TOPOLOGY_SPREAD
    events: ClassVar[frozenset[Event]] = frozenset({
        Event.ASSIGNED_POD_ADD, Event.ASSIGNED_POD_DELETE, Event.ASSIGNED_POD_LABEL, Event.NODE_ADD,
        Event.NODE_DELETE, Event.NODE_LABEL, Event.NODE_TAINT})

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        if handle is None:
            raise ValueError("PodTopologySpread needs a handle")
        self.handle = handle
        args = args or {}
        defaulting = args.get("defaultingType") or "System"
        if defaulting not in ("System", "List"):
            raise ValueError(f"defaultingType: unsupported value {defaulting!r} (System or List)")
        self.system_defaulted = defaulting == "System"
        self.default_constraints = list(SYSTEM_DEFAULT_CONSTRAINTS if self.system_defaulted
                                        else args.get("defaultConstraints") or ())
        for c in self.default_constraints:
            if c.get("labelSelector") is not None:
                raise ValueError("defaultConstraints: labelSelector must be empty (the pod's owners provide it)")

    def _constraints(self, pod: PodInfo, action: str) -> list[Constraint]:
        if pod.spread_constraints:
            return [Constraint(c, pod.labels, None) for c in pod.spread_constraints
                    if c.get("whenUnsatisfiable", "DoNotSchedule") == action]
        defaults = [c for c in self.default_constraints if c.get("whenUnsatisfiable", "DoNotSchedule") == action]
        if not defaults:
            return []
        selector = self.handle.default_selector(pod)
        if selector is None or selector.empty():
            return []
        return [Constraint(c, pod.labels, selector) for c in defaults]

    # ------------------------------------------------------------------ filter

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        try:
            constraints = self._constraints(pod, "DoNotSchedule")
        except (ValueError, KeyError, TypeError) as exc:
            return Status.unresolvable(f"invalid topology spread constraints: {exc}")
        if not constraints:
            return SKIP
        s = _FilterState(constraints)
        keys = [c.key for c in constraints]
        for node in self.handle.cache.node_list():
            node_labels = node.labels
            if not all(k in node_labels for k in keys):
                continue
            for c in constraints:
                if not c.includes(pod, node):
                    continue
                s.counts[(c.key, node_labels[c.key])] += c.count(node, pod.namespace)
        for key, _ in s.counts:
            s.domains[key] += 1
        s.recompute_minimum()
        state[self.name] = s
        return None

    def _update(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int) -> None:
        s: _FilterState | None = state.get(self.name)
        if s is None or other.namespace != pod.namespace:
            return
        if not all(c.key in node.labels for c in s.constraints):
            return
        for c in s.constraints:
            if c.matches(other.labels) and c.includes(pod, node):
                s.counts[(c.key, node.labels[c.key])] += delta
        s.recompute_minimum()

    def add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, added, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, removed, node, -1)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState = state[self.name]
        for c in s.constraints:
            value = node.labels.get(c.key)
            if value is None:
                return Status.unresolvable(MISSING_LABEL_REASON)
            minimum = s.minimum.get(c.key, 0)
            if s.domains.get(c.key, 0) < c.min_domains:
                minimum = 0
            self_match = 1 if c.matches(pod.labels) else 0
            if s.counts.get((c.key, value), 0) + self_match - minimum > c.max_skew:
                return Status.unschedulable(REASON)
        return None

    # ------------------------------------------------------------------ score

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        cache = self.handle.cache
        if not cache.num_nodes():
            return SKIP
        try:
            constraints = self._constraints(pod, "ScheduleAnyway")
        except (ValueError, KeyError, TypeError):
            return SKIP
        if not constraints:
            return SKIP
        require_all = bool(pod.spread_constraints) or not self.system_defaulted
        keys = [c.key for c in constraints]
        ignored: set[str] = set()
        counts: list[dict[str, int]] = [{} for _ in constraints]
        for node in nodes:
            node_labels = node.labels
            if require_all and not all(k in node_labels for k in keys):
                ignored.add(node.name)
                continue
            for i, key in enumerate(keys):
                if key != HOSTNAME and key in node_labels:
                    counts[i].setdefault(node_labels[key], 0)
        weights = []
        for i, c in enumerate(constraints):
            size = len(nodes) - len(ignored) if c.key == HOSTNAME else len(counts[i])
            weights.append(math.log(size + 2))
        namespace = pod.namespace
        for i, c in enumerate(constraints):
            domain = counts[i]
            if c.key == HOSTNAME or not domain:
                continue  # per-node counts are taken in Score
            key, count, includes = c.key, c.count, c.includes
            for node in cache.node_list():
                if not node.label_groups:
                    continue  # no pods: adds nothing
                value = node.labels.get(key)
                if value is None or value not in domain:
                    continue
                if require_all and not all(k in node.labels for k in keys):
                    continue
                if includes(pod, node):
                    domain[value] += count(node, namespace)
        state[self.name + "/score"] = (constraints, ignored, counts, weights)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        constraints, ignored, counts, weights = state[self.name + "/score"]
        if node.name in ignored:
            return 0
        total = 0.0
        for i, c in enumerate(constraints):
            value = node.labels.get(c.key)
            if value is None:
                continue
            n = c.count(node, pod.namespace) if c.key == HOSTNAME else counts[i].get(value, 0)
            total += n * weights[i] + (c.max_skew - 1)
        return math.floor(total + 0.5)  # Go's math.Round: halves away from zero

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """`score` for every node; with only the hostname and zone defaults the loop is unrolled."""
        constraints, ignored, counts, weights = state[self.name + "/score"]
        if ignored or len(constraints) != 2 or constraints[0].key != HOSTNAME:
            return [self.score(state, pod, n) for n in nodes]
        host, other = constraints
        host_base, other_base = host.max_skew - 1, other.max_skew - 1
        host_w, other_w, key, domain = weights[0], weights[1], other.key, counts[1]
        ns, count = pod.namespace, host.count
        out = []
        for node in nodes:
            total = 0.0
            if HOSTNAME in node.labels:
                total += count(node, ns) * host_w + host_base
            value = node.labels.get(key)
            if value is not None:
                total += domain.get(value, 0) * other_w + other_base
            out.append(math.floor(total + 0.5))
        return out

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int], nodes: list[NodeInfo]) -> None:
        _, ignored, _, _ = state[self.name + "/score"]
        valid = [s for s, n in zip(scores, nodes, strict=True) if n.name not in ignored]
        low = min(valid, default=0)
        high = max(valid, default=0)
        for i, node in enumerate(nodes):
            if node.name in ignored:
                scores[i] = 0
            elif high == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                scores[i] = MAX_NODE_SCORE * (high + low - scores[i]) // high
