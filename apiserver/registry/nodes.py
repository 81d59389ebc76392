"""Nodes: cluster-scoped; the kubelet writes status (created with it, then through `nodes/{n}/status`)."""

from __future__ import annotations

from typing import Any

from apiserver import validation as v
from apiserver.registry.base import Strategy
from kube import errors
from kube.models import Node

Obj = dict[str, Any]
EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]


#: NodeSystemInfo's fields: Go writes every one of them (no omitempty), and typed clients (the official
#: Python client among them) require them all as strings once nodeInfo is there.
NODE_INFO_FIELDS = ("machineID", "systemUUID", "bootID", "kernelVersion", "osImage", "containerRuntimeVersion",
                    "kubeletVersion", "kubeProxyVersion", "operatingSystem", "architecture")


class NodeStrategy(Strategy):
    model = Node
    status_subresource = True

    def decode(self, obj: Obj, field_validation: str = "Warn") -> tuple[Obj, list[str]]:
        """Node's spec and status, NodeStatus's daemonEndpoints and nodeInfo, and NodeDaemonEndpoints'
        kubeletEndpoint are structs (not pointers) in k8s.io/api core/v1, so Go always writes them: a Node is
        never without `spec: {}` and `status: {daemonEndpoints: {kubeletEndpoint: {Port: 0}}, nodeInfo: {...}}`,
        even one created with nothing but a name."""
        decoded, warnings = super().decode(obj, field_validation)
        decoded.setdefault("spec", {})
        status = decoded.setdefault("status", {})
        endpoints = status.setdefault("daemonEndpoints", {})
        endpoints["kubeletEndpoint"] = {"Port": 0, **(endpoints.get("kubeletEndpoint") or {})}
        status["nodeInfo"] = {**dict.fromkeys(NODE_INFO_FIELDS, ""), **(status.get("nodeInfo") or {})}
        return decoded, warnings

    def default(self, node: Node) -> None:
        """SetDefaults_NodeStatus: allocatable, when not given at all, is the capacity."""
        status = node.status
        if status is not None and "allocatable" not in status.model_fields_set and status.capacity:
            status.allocatable = dict(status.capacity)

    def prepare_for_create(self, obj: Obj) -> None:
        pass  # a kubelet registers its node with its status (capacity, addresses) in one write

    def validate(self, obj: Obj) -> list[errors.Cause]:
        causes = self.validate_metadata(obj)
        seen: set[tuple[str, str]] = set()
        for i, taint in enumerate((obj.get("spec") or {}).get("taints") or []):
            causes += v.label_key(taint["key"], f"spec.taints[{i}].key")
            if taint["effect"] not in EFFECTS:
                causes.append(v.not_supported(f"spec.taints[{i}].effect", taint["effect"], EFFECTS))
            if (taint["key"], taint["effect"]) in seen:
                causes.append(v.duplicate(f"spec.taints[{i}]", f"{taint['key']}:{taint['effect']}"))
            seen.add((taint["key"], taint["effect"]))
        return causes
