"""Resources. NodeResourcesFit filters: the node's pod count and, for every resource the pod requests (cpu, memory,
ephemeral-storage, extended resources such as `example.com/gpu`), allocatable minus what placed pods (bound or
assumed) request must cover it. It also scores, by a strategy: LeastAllocated (default; emptier is better) or
MostAllocated (bin packing), over weighted resources, counting kube-scheduler's defaults (100m cpu, 200Mi memory)
for containers that request nothing.

NodeResourcesBalancedAllocation scores how even the node's cpu and memory fractions would be after placement
(1 - their standard deviation), from actual requests; best-effort pods (no requests) skip it, as in recent
kube-scheduler, so they do not pile up on one node.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from scheduler.framework import MAX_NODE_SCORE, SKIP, CycleState, Event, Handle, NodeInfo, PodInfo, Status
from scheduler.plugins import names

DEFAULT_RESOURCES = ({"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1})


def _resources(args: dict[str, Any] | None, key: str = "resources") -> list[tuple[str, int]]:
    specs = (args or {}).get(key) or DEFAULT_RESOURCES
    out = []
    for spec in specs:
        weight = int(spec.get("weight", 1))
        if not spec.get("name") or weight <= 0:
            raise ValueError(f"resources: each needs a name and a positive weight, got {spec!r}")
        out.append((spec["name"], weight))
    return out


class NodeResourcesFit:
    name: ClassVar[str] = names.NODE_RESOURCES_FIT
    events: ClassVar[frozenset[Event]] = frozenset({
        Event.NODE_ADD, Event.NODE_ALLOCATABLE, Event.ASSIGNED_POD_DELETE, Event.ASSIGNED_POD_SCALE_DOWN})

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        strategy = (args or {}).get("scoringStrategy") or {}
        self.strategy = strategy.get("type") or "LeastAllocated"
        if self.strategy not in ("LeastAllocated", "MostAllocated"):
            raise ValueError(f"scoringStrategy.type: unsupported value {self.strategy!r} "
                             "(LeastAllocated or MostAllocated)")
        self.resources = _resources(strategy)
        self.ignored = set((args or {}).get("ignoredResources") or ())
        self.default_least = self.strategy == "LeastAllocated" and self.resources == [("cpu", 1), ("memory", 1)]

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[Status | None]:
        """`filter` for many nodes: a pod asking for cpu and memory only is checked in one comprehension."""
        requests = pod.requests
        if len(requests) == 2 and "cpu" in requests and "memory" in requests:
            cpu, mem, check = requests["cpu"], requests["memory"], self.filter
            return [None if (len(n.pods) < n.allowed_pods and cpu <= n.alloc_cpu - n.req_cpu
                             and mem <= n.alloc_mem - n.req_mem) else check(state, pod, n) for n in nodes]
        return [self.filter(state, pod, n) for n in nodes]

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        requests = pod.requests
        if len(node.pods) < node.allowed_pods:
            if not requests:
                return None
            # The common case in one expression: enough cpu and memory, nothing else asked for.
            if (len(requests) == 2 and requests.get("cpu", -1) <= node.alloc_cpu - node.req_cpu
                    and requests.get("memory", -1) <= node.alloc_mem - node.req_mem):
                return None
            reasons = []
        else:
            reasons = ["Too many pods"]
        if requests:
            requested = node.requested
            allocatable = node.allocatable
            for resource, amount in requests.items():
                if amount > allocatable.get(resource, 0) - requested.get(resource, 0) and resource not in self.ignored:
                    reasons.append(f"Insufficient {resource}")
        return Status.unschedulable(*reasons) if reasons else None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """`score` for every node at once: the default strategy as one comprehension (the hot path)."""
        if not self.default_least:
            return [self.score(state, pod, n) for n in nodes]
        cpu, mem, top = pod.non_zero_cpu, pod.non_zero_mem, MAX_NODE_SCORE
        return [
            ((0 if n.non_zero_cpu + cpu > n.alloc_cpu
              else (n.alloc_cpu - n.non_zero_cpu - cpu) * top // n.alloc_cpu)
             + (0 if n.non_zero_mem + mem > n.alloc_mem
                else (n.alloc_mem - n.non_zero_mem - mem) * top // n.alloc_mem)) // 2
            if n.alloc_cpu and n.alloc_mem else self.score(state, pod, n)
            for n in nodes]

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if self.default_least:
            # LeastAllocated over cpu and memory, weight 1 each: the default, inlined.
            capacity, requested = node.alloc_cpu, node.non_zero_cpu + pod.non_zero_cpu
            mem_capacity, mem_requested = node.alloc_mem, node.non_zero_mem + pod.non_zero_mem
            if capacity and mem_capacity:
                cpu = 0 if requested > capacity else (capacity - requested) * MAX_NODE_SCORE // capacity
                mem = 0 if mem_requested > mem_capacity else (
                    (mem_capacity - mem_requested) * MAX_NODE_SCORE // mem_capacity)
                return (cpu + mem) // 2
        total = weights = 0
        allocatable = node.allocatable
        least = self.strategy == "LeastAllocated"
        for resource, weight in self.resources:
            capacity = allocatable.get(resource, 0)
            if capacity == 0:
                continue
            if resource == "cpu":
                requested = node.non_zero_cpu + pod.non_zero_cpu
            elif resource == "memory":
                requested = node.non_zero_mem + pod.non_zero_mem
            else:
                requested = node.requested.get(resource, 0) + pod.requests.get(resource, 0)
            if least:
                value = 0 if requested > capacity else (capacity - requested) * MAX_NODE_SCORE // capacity
            else:
                value = min(requested, capacity) * MAX_NODE_SCORE // capacity
            total += value * weight
            weights += weight
        return total // weights if weights else 0


class BalancedAllocation:
    name: ClassVar[str] = names.NODE_RESOURCES_BALANCED_ALLOCATION
    events: ClassVar[frozenset[Event]] = frozenset()

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.resources = [r for r, _ in _resources(args)]
        self.default = self.resources == ["cpu", "memory"]

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        return None if any(pod.requests.get(r) for r in self.resources) else SKIP

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        if not self.default:
            return [self.score(state, pod, n) for n in nodes]
        cpu, mem, top = pod.requests.get("cpu", 0), pod.requests.get("memory", 0), MAX_NODE_SCORE
        return [
            int((1 - abs((fc if (fc := (n.req_cpu + cpu) / n.alloc_cpu) <= 1 else 1.0)
                         - (fm if (fm := (n.req_mem + mem) / n.alloc_mem) <= 1 else 1.0)) / 2) * top)
            if n.alloc_cpu and n.alloc_mem else self.score(state, pod, n)
            for n in nodes]

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if self.default:
            cpu_capacity, mem_capacity = node.alloc_cpu, node.alloc_mem
            if cpu_capacity and mem_capacity:
                requests = pod.requests
                cpu = (node.req_cpu + requests.get("cpu", 0)) / cpu_capacity
                mem = (node.req_mem + requests.get("memory", 0)) / mem_capacity
                return int((1 - abs((1.0 if cpu > 1 else cpu) - (1.0 if mem > 1 else mem)) / 2) * MAX_NODE_SCORE)
        fractions = []
        allocatable = node.allocatable
        for resource in self.resources:
            capacity = allocatable.get(resource, 0)
            if capacity == 0:
                continue
            fraction = (node.requested.get(resource, 0) + pod.requests.get(resource, 0)) / capacity
            fractions.append(1.0 if fraction > 1 else fraction)
        if len(fractions) == 2:
            std = abs(fractions[0] - fractions[1]) / 2
        elif len(fractions) > 2:
            mean = sum(fractions) / len(fractions)
            std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
        else:
            std = 0.0
        return int((1 - std) * MAX_NODE_SCORE)
