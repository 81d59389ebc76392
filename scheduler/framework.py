"""The scheduling framework: what plugins see (NodeInfo), what they return (Status), how they are run.

Shaped after kube-scheduler: filter plugins say whether a pod may go on a node (and why not, in words that
end up in the FailedScheduling event), score plugins rank the nodes that passed, 0-100 each, weighted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from kube import quantity

__all__ = [
    "FilterPlugin",
    "NodeInfo",
    "ScorePlugin",
    "Status",
    "failure_message",
    "pod_requests",
]

Obj = dict[str, Any]


@dataclass(frozen=True)
class Status:
    """A filter's verdict: success, or the reasons (several are possible) a node does not fit."""

    reasons: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.reasons

    @classmethod
    def unschedulable(cls, *reasons: str) -> Status:
        return cls(tuple(reasons))


SUCCESS = Status()


def pod_requests(pod: Obj) -> dict[str, int]:
    """cpu (millicores), memory (bytes) and other resources a pod asks for: the sum over its containers,
    or the largest init container if that is more (init containers run one at a time)."""
    total: Counter[str] = Counter()
    spec = pod.get("spec") or {}
    for c in spec.get("containers") or []:
        for name, value in ((c.get("resources") or {}).get("requests") or {}).items():
            total[name] += _amount(name, value)
    for c in spec.get("initContainers") or []:
        for name, value in ((c.get("resources") or {}).get("requests") or {}).items():
            total[name] = max(total[name], _amount(name, value))
    for name, value in (spec.get("overhead") or {}).items():
        total[name] += _amount(name, value)
    return dict(total)


def _amount(name: str, value: str) -> int:
    return quantity.cpu_millis(value) if name == "cpu" else quantity.memory_bytes(value)


@dataclass
class NodeInfo:
    """A node with the pods placed on it (bound or assumed) and what they request in total."""

    node: Obj
    pods: list[Obj] = field(default_factory=list)
    requested: Counter[str] = field(default_factory=Counter)

    @property
    def name(self) -> str:
        return self.node["metadata"]["name"]

    def add_pod(self, pod: Obj) -> None:
        self.pods.append(pod)
        self.requested.update(pod_requests(pod))
        self.requested["pods"] += 1

    def allocatable(self) -> dict[str, int]:
        status = self.node.get("status") or {}
        alloc = status.get("allocatable") or status.get("capacity") or {}
        out = {name: _amount(name, value) for name, value in alloc.items() if name != "pods"}
        out["pods"] = int(alloc.get("pods", 110))
        return out


class FilterPlugin(Protocol):
    name: str

    def filter(self, pod: Obj, node: NodeInfo) -> Status: ...


class ScorePlugin(Protocol):
    name: str
    weight: int

    def score(self, pod: Obj, node: NodeInfo) -> int:
        """0 (worst) to 100 (best)."""
        ...


def failure_message(total_nodes: int, failures: dict[str, Status]) -> str:
    """kube-scheduler's summary: `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) were unschedulable.`"""
    counts: Counter[str] = Counter()
    for status in failures.values():
        counts.update(status.reasons)
    if not counts:
        return f"0/{total_nodes} nodes are available: no nodes available to schedule pods."
    parts = sorted(f"{n} {reason}" for reason, n in counts.items())
    return f"0/{total_nodes} nodes are available: {', '.join(parts)}."
