"""Nodes: cluster-scoped; the kubelet writes status (created with it, then through `nodes/{n}/status`)."""

from __future__ import annotations

from typing import Any

from apiserver import validation as v
from apiserver.registry.base import Strategy
from kube import errors
from kube.models import Node

Obj = dict[str, Any]
EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]


class NodeStrategy(Strategy):
    model = Node
    status_subresource = True

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
