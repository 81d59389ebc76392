"""Resources: a pod fits where allocatable minus what placed pods request covers its requests;
among fitting nodes prefer the least allocated and the most balanced (cpu vs memory) after placement."""

from __future__ import annotations

from typing import Any

from scheduler.framework import SUCCESS, NodeInfo, Status, pod_requests

Obj = dict[str, Any]

# What kube-scheduler assumes for scoring when a container requests nothing, so empty pods still spread.
DEFAULT_CPU_MILLIS = 100
DEFAULT_MEMORY_BYTES = 200 * 1024 * 1024


class NodeResourcesFit:
    name = "NodeResourcesFit"

    def filter(self, pod: Obj, node: NodeInfo) -> Status:
        wanted = pod_requests(pod)
        wanted["pods"] = 1
        alloc = node.allocatable()
        reasons = []
        for resource, amount in sorted(wanted.items()):
            if amount <= 0:
                continue
            if node.requested.get(resource, 0) + amount > alloc.get(resource, 0):
                reasons.append("Too many pods" if resource == "pods" else f"Insufficient {resource}")
        return Status.unschedulable(*reasons) if reasons else SUCCESS


def _fractions(pod: Obj, node: NodeInfo) -> tuple[float, float]:
    wanted = pod_requests(pod)
    alloc = node.allocatable()
    cpu = node.requested.get("cpu", 0) + (wanted.get("cpu") or DEFAULT_CPU_MILLIS)
    mem = node.requested.get("memory", 0) + (wanted.get("memory") or DEFAULT_MEMORY_BYTES)
    return (cpu / alloc["cpu"] if alloc.get("cpu") else 1.0,
            mem / alloc["memory"] if alloc.get("memory") else 1.0)


class LeastAllocated:
    name = "NodeResourcesLeastAllocated"

    def __init__(self, weight: int = 1) -> None:
        self.weight = weight

    def score(self, pod: Obj, node: NodeInfo) -> int:
        cpu, mem = _fractions(pod, node)
        return int(((1 - min(cpu, 1.0)) + (1 - min(mem, 1.0))) / 2 * 100)


class BalancedAllocation:
    name = "NodeResourcesBalancedAllocation"

    def __init__(self, weight: int = 1) -> None:
        self.weight = weight

    def score(self, pod: Obj, node: NodeInfo) -> int:
        cpu, mem = _fractions(pod, node)
        return int((1 - abs(min(cpu, 1.0) - min(mem, 1.0))) * 100)
