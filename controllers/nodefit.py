"""Whether a pod may run on a node: node name, nodeSelector, required node affinity, taints against
tolerations, and the resources the node has left.

The DaemonSet controller places its pods itself (it cannot wait for a scheduler to agree), and the
volume binder matches PersistentVolume node affinity against nodes, so both need the scheduler's
predicates without importing the scheduler (daemons never import each other). Pure functions over plain
dicts, shaped after Kubernetes' `component-helpers/scheduling/corev1` and `v1helper` taint helpers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kube import labels, quantity

__all__ = [
    "fits_resources", "node_selector_matches", "pod_requests", "required_affinity_matches", "term_matches",
    "tolerates", "untolerated_taint",
]

Obj = dict[str, Any]


# ---------------------------------------------------------------------- taints and tolerations


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """Kubernetes' Toleration.ToleratesTaint: an empty key with Exists tolerates every taint of the effect."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def untolerated_taint(taints: Iterable[Obj], tolerations: Iterable[Obj], effects: Iterable[str]) -> Obj | None:
    """The first taint with one of `effects` that no toleration tolerates, if any."""
    tolerations = list(tolerations)
    wanted = set(effects)
    for taint in taints:
        if taint.get("effect") in wanted and not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


# ---------------------------------------------------------------------- node selectors and affinity


def term_matches(term: Obj, node: Obj) -> bool:
    """One NodeSelectorTerm: all its label expressions and field expressions hold. An empty term matches
    nothing (as in Kubernetes)."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    meta = node.get("metadata") or {}
    node_labels = meta.get("labels") or {}
    for expr in expressions:
        try:
            requirement = labels.Requirement(expr["key"], expr["operator"], tuple(expr.get("values") or ()))
            if not requirement.matches(node_labels):
                return False
        except (KeyError, ValueError):
            return False
    for expr in fields:
        if expr.get("key") != "metadata.name":
            return False  # the only field Kubernetes supports here
        name = meta.get("name")
        values = expr.get("values") or []
        if expr.get("operator") == "In" and name not in values:
            return False
        if expr.get("operator") == "NotIn" and name in values:
            return False
        if expr.get("operator") not in ("In", "NotIn"):
            return False
    return True


def node_selector_matches(selector: Obj | None, node: Obj) -> bool:
    """A NodeSelector ({nodeSelectorTerms: [...]}): the terms are ORed. None selects every node."""
    if selector is None:
        return True
    return any(term_matches(term, node) for term in selector.get("nodeSelectorTerms") or [])


def required_affinity_matches(pod_spec: Obj, node: Obj) -> bool:
    """spec.nodeSelector and requiredDuringSchedulingIgnoredDuringExecution both hold
    (Kubernetes' GetRequiredNodeAffinity(pod).Match(node))."""
    node_labels = (node.get("metadata") or {}).get("labels") or {}
    if any(node_labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
        return False
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution")
    return node_selector_matches(required, node)


# ---------------------------------------------------------------------- resources


def pod_requests(pod_spec: Obj) -> dict[str, int]:
    """cpu (millicores) and memory (bytes) a pod asks for: containers summed, the largest init container
    if that is more, plus overhead (the scheduler's NodeResourcesFit arithmetic)."""
    total = {"cpu": 0, "memory": 0}

    def amount(name: str, value: Any) -> int:
        return quantity.cpu_millis(value) if name == "cpu" else quantity.memory_bytes(value)

    for c in pod_spec.get("containers") or []:
        for name, value in ((c.get("resources") or {}).get("requests") or {}).items():
            if name in total:
                total[name] += amount(name, value)
    for c in pod_spec.get("initContainers") or []:
        for name, value in ((c.get("resources") or {}).get("requests") or {}).items():
            if name in total:
                total[name] = max(total[name], amount(name, value))
    for name, value in (pod_spec.get("overhead") or {}).items():
        if name in total:
            total[name] += amount(name, value)
    return total


def fits_resources(pod_spec: Obj, node: Obj, pods_on_node: Iterable[Obj]) -> list[str]:
    """Why the node has no room for the pod ("Insufficient cpu", "Too many pods"); empty when it fits.
    `pods_on_node` are the node's other pods; finished ones are ignored."""
    allocatable = (node.get("status") or {}).get("allocatable") or (node.get("status") or {}).get("capacity") or {}
    active = [p for p in pods_on_node if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    reasons: list[str] = []
    if "pods" in allocatable and len(active) + 1 > int(quantity.parse(allocatable["pods"])):
        reasons.append("Too many pods")
    wanted = pod_requests(pod_spec)
    used = {"cpu": 0, "memory": 0}
    for p in active:
        for name, value in pod_requests(p.get("spec") or {}).items():
            used[name] += value
    for name in ("cpu", "memory"):
        if not wanted[name] or name not in allocatable:
            continue
        have = quantity.cpu_millis(allocatable[name]) if name == "cpu" else quantity.memory_bytes(allocatable[name])
        if used[name] + wanted[name] > have:
            reasons.append(f"Insufficient {name}")
    return reasons
