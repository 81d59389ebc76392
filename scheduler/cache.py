"""The scheduler's view of the cluster: NodeInfo per node with the pods on it, kept up to date incrementally from
the informers, plus pods *assumed* on a node between the scheduling decision and the watch event that shows the
binding (kube-scheduler's `internal/cache`). Assuming is what keeps two pods scheduled back to back from
over-committing a node.

A pod seen on a node the cache does not know yet is kept on a node-less NodeInfo, so its requests count as soon
as the Node object arrives. The scheduling cycle runs synchronously between two awaits, so it reads the live
cache: no snapshot copy is needed.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from scheduler.framework import NodeInfo, PodInfo

__all__ = ["Cache"]

log = logging.getLogger("scheduler.cache")

Obj = dict[str, Any]


class Cache:
    def __init__(self) -> None:
        self._infos: dict[str, NodeInfo] = {}  # every node name seen, with or without a Node object
        self._present: list[NodeInfo] = []  # nodes with a Node object, in a stable order (round robin start)
        self._present_names: set[str] = set()
        self._pods: dict[str, tuple[PodInfo, bool]] = {}  # key -> (pod on its node, assumed)
        self.image_nodes: Counter[str] = Counter()  # image name -> number of nodes that have it
        self.affinity_pods = 0  # placed pods with pod (anti-)affinity, so plugins can skip scans when there are none
        self.anti_affinity_pods = 0
        self._prefer_tainted = 0
        self.unschedulable_nodes = 0  # nodes that some filter could reject whatever the pod: plugins skip otherwise
        self.hard_tainted_nodes = 0
        self.not_ready_nodes = 0
        self.generation = 0

    # ------------------------------------------------------------------ reading

    def node_list(self) -> list[NodeInfo]:
        return self._present

    def node(self, name: str) -> NodeInfo | None:
        info = self._infos.get(name)
        return info if info is not None and info.node is not None else None

    def num_nodes(self) -> int:
        return len(self._present)

    def nodes_with_affinity_pods(self) -> list[NodeInfo]:
        if not self.affinity_pods:
            return []
        return [n for n in self._present if n.affinity_pods]

    def nodes_with_anti_affinity_pods(self) -> list[NodeInfo]:
        if not self.anti_affinity_pods:
            return []
        return [n for n in self._present if n.anti_affinity_pods]

    def nodes_with_prefer_taints(self) -> int:
        return self._prefer_tainted

    def pod(self, key: str) -> PodInfo | None:
        entry = self._pods.get(key)
        return entry[0] if entry else None

    def is_assumed(self, key: str) -> bool:
        entry = self._pods.get(key)
        return bool(entry and entry[1])

    def pod_count(self) -> int:
        return len(self._pods)

    # ------------------------------------------------------------------ nodes

    def _count_node(self, info: NodeInfo, sign: int) -> None:
        self._prefer_tainted += sign * bool(info.prefer_taints)
        self.unschedulable_nodes += sign * info.unschedulable
        self.hard_tainted_nodes += sign * bool(info.hard_taints)
        self.not_ready_nodes += sign * (info.condition_taint is not None)
        for image in info.images:
            self.image_nodes[image] += sign
            if self.image_nodes[image] <= 0:
                del self.image_nodes[image]

    def add_node(self, node: Obj) -> NodeInfo:
        name = node["metadata"]["name"]
        info = self._infos.get(name)
        if info is None:
            info = self._infos[name] = NodeInfo(node)
        else:
            if info.node is not None:
                self._count_node(info, -1)
            info.set_node(node)
        self._count_node(info, 1)
        if name not in self._present_names:
            self._present_names.add(name)
            self._present.append(info)
        self.generation += 1
        return info

    def update_node(self, node: Obj) -> NodeInfo:
        return self.add_node(node)

    def remove_node(self, name: str) -> None:
        info = self._infos.get(name)
        if info is None:
            return
        if info.node is not None:
            self._count_node(info, -1)
        if name in self._present_names:
            self._present_names.discard(name)
            self._present.remove(info)
        info.node = None
        if not info.pods:
            del self._infos[name]
        self.generation += 1

    # ------------------------------------------------------------------ pods

    def _place(self, pod: PodInfo, node_name: str, assumed: bool) -> None:
        info = self._infos.get(node_name)
        if info is None:
            info = self._infos[node_name] = NodeInfo(name=node_name)
        info.add_pod(pod)
        self.affinity_pods += pod.has_affinity
        self.anti_affinity_pods += bool(pod.required_anti_affinity)
        self._pods[pod.key] = (pod, assumed)
        self.generation += 1

    def _unplace(self, key: str) -> PodInfo | None:
        entry = self._pods.pop(key, None)
        if entry is None:
            return None
        pod = entry[0]
        self.affinity_pods -= pod.has_affinity
        self.anti_affinity_pods -= bool(pod.required_anti_affinity)
        info = self._infos.get(pod.node_name or "")
        if info is not None:
            info.remove_pod(key)
            if info.node is None and not info.pods:
                del self._infos[info.name]
        self.generation += 1
        return pod

    def assume(self, pod: PodInfo, node_name: str) -> PodInfo:
        """Place `pod` on `node_name` before the binding is confirmed; returns the placed copy."""
        placed = pod.with_node(node_name)
        self._unplace(pod.key)
        self._place(placed, node_name, assumed=True)
        return placed

    def forget(self, key: str) -> None:
        """The binding failed: take an assumed pod off its node."""
        if self.is_assumed(key):
            self._unplace(key)

    def add_pod(self, pod: PodInfo) -> None:
        """A bound pod seen by the informer (also confirms an assumed one, wherever it really went)."""
        assert pod.node_name
        self._unplace(pod.key)
        self._place(pod, pod.node_name, assumed=False)

    update_pod = add_pod

    def remove_pod(self, key: str) -> PodInfo | None:
        return self._unplace(key)
