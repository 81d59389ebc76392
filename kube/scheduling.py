"""Scheduling rules every daemon applies the same way (Kubernetes' component-helpers/scheduling and
resource helpers): taint toleration, node selectors and required node affinity, a pod's resource requests
and whether they fit a node. The scheduler filters with them, the DaemonSet controller places its pods
(it cannot wait for a scheduler), the volume binder matches volume node affinity, the node lifecycle
controller decides evictions — one copy, so they can never disagree. Pure functions over plain dicts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from kube import labels, quantity

__all__ = [
    "PREEMPT_LOWER_PRIORITY", "SYSTEM_PRIORITY_CLASSES", "fits_resources", "node_selector_matches", "pod_requests",
    "required_affinity_matches", "term_matches", "tolerates", "untolerated_taint",
]

Obj = Mapping[str, Any]

#: The classes kube-apiserver creates at bootstrap (pkg/apis/scheduling SystemPriorityClasses): their values
#: hold even where their objects are not stored.
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2_000_001_000, "system-cluster-critical": 2_000_000_000}
PREEMPT_LOWER_PRIORITY = "PreemptLowerPriority"


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """core/v1 Toleration.ToleratesTaint: effect and key must match when set; `Exists` tolerates any value
    (with no key, any taint of the effect), `Equal` (the default) compares values, any other operator
    tolerates nothing."""
    effect = toleration.get("effect")
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key")
    if key and key != taint.get("key"):
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


def _amount(name: str, value: Any) -> int:
    return quantity.cpu_millis(value) if name == "cpu" else quantity.memory_bytes(value)


def _requests(container: Obj) -> Counter[str]:
    requests = (container.get("resources") or {}).get("requests") or {}
    return Counter({name: _amount(name, value) for name, value in requests.items()})


def _max(a: Counter[str], b: Counter[str]) -> Counter[str]:
    return Counter({k: max(a[k], b[k]) for k in dict.fromkeys([*a, *b])})  # keys in order: stable reasons


def pod_requests(pod_spec: Obj) -> dict[str, int]:
    """What a pod asks of a node (cpu in millicores, memory in bytes, other resources as counts), as
    Kubernetes' PodRequests computes it: the app containers plus sidecars (init containers with
    restartPolicy Always, which keep running), or more while an init container runs beside the sidecars
    started before it, plus the pod's overhead."""
    total: Counter[str] = Counter()
    for container in pod_spec.get("containers") or []:
        total += _requests(container)
    sidecars: Counter[str] = Counter()
    init_peak: Counter[str] = Counter()
    for container in pod_spec.get("initContainers") or []:
        own = _requests(container)
        if container.get("restartPolicy") == "Always":
            total += own
            sidecars += own
            running = Counter(sidecars)
        else:
            running = own + sidecars
        init_peak = _max(init_peak, running)
    total = _max(total, init_peak)
    for name, value in (pod_spec.get("overhead") or {}).items():
        total[name] += _amount(name, value)
    return {k: v for k, v in total.items() if v}


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


def fits_resources(pod_spec: Obj, node: Obj, pods_on_node: Iterable[Obj]) -> list[str]:
    """Why the node has no room for the pod ("Insufficient cpu", "Too many pods"); empty when it fits.
    `pods_on_node` are the node's other pods; finished ones are ignored."""
    allocatable = (node.get("status") or {}).get("allocatable") or (node.get("status") or {}).get("capacity") or {}
    active = [p for p in pods_on_node if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    reasons: list[str] = []
    if "pods" in allocatable and len(active) + 1 > int(quantity.parse(allocatable["pods"])):
        reasons.append("Too many pods")
    wanted = pod_requests(pod_spec)
    used: Counter[str] = Counter()
    for p in active:
        used.update(pod_requests(p.get("spec") or {}))
    for name in ("cpu", "memory"):
        if not wanted.get(name) or name not in allocatable:
            continue
        have = quantity.cpu_millis(allocatable[name]) if name == "cpu" else quantity.memory_bytes(allocatable[name])
        if used[name] + wanted[name] > have:
            reasons.append(f"Insufficient {name}")
    return reasons
