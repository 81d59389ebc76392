"""Namespaces: names are DNS labels; a new namespace is Active and carries the `kubernetes` finalizer in
its spec, which only the namespace controller removes (through `namespaces/{name}/finalize`) after it has
deleted everything inside. Until then a deleted namespace stays, Terminating."""

from __future__ import annotations

from typing import Any

from apiserver.registry.base import Strategy
from kube.models import Namespace

Obj = dict[str, Any]

NAME_LABEL = "kubernetes.io/metadata.name"
FINALIZER = "kubernetes"


class NamespaceStrategy(Strategy):
    model = Namespace
    status_subresource = True
    name_is_label = True

    def default(self, ns: Namespace) -> None:
        if ns.metadata.name:
            ns.metadata.labels[NAME_LABEL] = ns.metadata.name  # immutable identity label, as Kubernetes sets

    def prepare_for_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Active"}
        finalizers = list((obj.get("spec") or {}).get("finalizers") or [])
        obj["spec"] = {**(obj.get("spec") or {}), "finalizers": [*finalizers, FINALIZER]
                       if FINALIZER not in finalizers else finalizers}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        new["spec"] = {**(new.get("spec") or {}), "finalizers": (old.get("spec") or {}).get("finalizers") or []}
        if not new["spec"]["finalizers"]:
            del new["spec"]["finalizers"]

    def prepare_for_finalize(self, new: Obj, old: Obj) -> Obj:
        """`finalize` writes spec.finalizers and nothing else."""
        spec = {**(old.get("spec") or {}), "finalizers": (new.get("spec") or {}).get("finalizers") or []}
        return {**old, "spec": spec}

    def holds_deletion(self, obj: Obj) -> bool:
        return bool((obj.get("spec") or {}).get("finalizers"))

    def mark_deleting(self, obj: Obj) -> None:
        obj["status"] = {**(obj.get("status") or {}), "phase": "Terminating"}
