"""Resource quota accounting, as Kubernetes' quota/v1 (k8s.io/apiserver/pkg/quota/v1 and the core evaluators of
pkg/quota/v1/evaluator/core): what one object costs, which ResourceQuotas it falls under, and what a namespace uses.

The ResourceQuota admission plugin (apiserver/admission/resourcequota.py) charges a new object's usage to the
quota's `status.used` before the object is stored; the resource-quota controller (controllers/resourcequota.py)
recomputes `status.used` from what exists. Both measure through this module, so they can never disagree.

Quantities keep a format as resource.Quantity does (a sum takes the format of its first non-zero term), so
`status.used` reads "128Mi", "500m" or "3" as Kubernetes writes it. Pure functions over plain dicts.

    pods = evaluator_for("", "pods")
    pods.usage(pod)  # {"count/pods": 1, "pods": 1, "requests.cpu": 500m, "cpu": 500m, ...}
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from kube import labels, quantity, timeutil

__all__ = [
    "BINARY_SI", "DECIMAL_EXPONENT", "DECIMAL_SI", "Evaluator", "ObjectCountEvaluator", "PodEvaluator",
    "PvcEvaluator", "Quantity", "ResourceList", "ServiceEvaluator", "add", "calculate_usage", "core_evaluators",
    "equals", "evaluator_for", "evaluators_for_hard", "is_negative", "less_than_or_equal", "mask", "matches",
    "object_count_name", "parse_list", "pod_limits", "pod_requests", "pretty", "remove_zeros", "scope_selectors",
    "subtract_non_negative", "to_text",
]

Obj = Mapping[str, Any]

DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT = quantity.DECIMAL_SI, quantity.BINARY_SI, quantity.DECIMAL_EXPONENT
_CONTEXT = decimal.Context(prec=200)
_NANO = Decimal("1e-9")
_BINARY_TEXT = re.compile(r"[KMGTPE]i$")
_EXPONENT_TEXT = re.compile(r"[eE][+-]?[0-9]+$")


@dataclass(frozen=True)
class Quantity:
    """A resource.Quantity: an exact value (base units, at most nano precision) and the format it prints in."""

    value: Decimal
    format: str = DECIMAL_SI

    @classmethod
    def parse(cls, text: str | int | float) -> Quantity:
        """ValueError for what is not a quantity."""
        value = quantity.parse(text)
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -9:
            value = value.quantize(_NANO, rounding=decimal.ROUND_UP, context=_CONTEXT)  # ParseQuantity rounds up
        shown = str(text).strip()
        fmt = BINARY_SI if _BINARY_TEXT.search(shown) else DECIMAL_EXPONENT if _EXPONENT_TEXT.search(shown) \
            else DECIMAL_SI
        return cls(value, fmt)

    @classmethod
    def of(cls, count: int) -> Quantity:
        return cls(Decimal(count))

    def __add__(self, other: Quantity) -> Quantity:
        # Quantity.Add: a zero takes the other's format
        return Quantity(_CONTEXT.add(self.value, other.value), other.format if self.value == 0 else self.format)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(_CONTEXT.subtract(self.value, other.value), other.format if self.value == 0 else self.format)

    def milli(self) -> int:
        """MilliValue: in thousandths, rounded up."""
        return int(_CONTEXT.multiply(self.value, Decimal(1000)).to_integral_value(decimal.ROUND_CEILING))

    def __str__(self) -> str:
        """Quantity.String: the canonical form ("1536Mi", "1500m", "2k")."""
        return quantity.canonical_text(self.value, self.format)


ResourceList = dict[str, Quantity]
_ZERO = Quantity(Decimal(0))


# ---------------------------------------------------------------------- resource lists (quota/v1/resources.go)


def parse_list(values: Mapping[str, Any] | None) -> ResourceList:
    """A ResourceList from its JSON (entries that are not quantities are left out)."""
    out: ResourceList = {}
    for name, text in (values or {}).items():
        try:
            out[name] = Quantity.parse(text)
        except (ValueError, TypeError):
            continue
    return out


def to_text(values: ResourceList) -> dict[str, str]:
    return {name: str(q) for name, q in values.items()}


def add(a: ResourceList, b: ResourceList) -> ResourceList:
    out = dict(a)
    for name, q in b.items():
        out[name] = out[name] + q if name in out else q
    return out


def subtract_non_negative(a: ResourceList, b: ResourceList) -> ResourceList:
    """SubtractWithNonNegativeResult: a - b per resource, negatives as zero; b's own resources as zero."""
    out: ResourceList = {}
    for name, q in a.items():
        diff = q - b[name] if name in b else q
        out[name] = diff if diff.value > 0 else _ZERO
    for name in b:
        out.setdefault(name, _ZERO)
    return out


def mask(values: ResourceList, names: Iterable[str]) -> ResourceList:
    keep = set(names)
    return {name: q for name, q in values.items() if name in keep}


def less_than_or_equal(a: ResourceList, b: ResourceList) -> tuple[bool, list[str]]:
    """Whether every resource of a that b limits is within it, and those that are not."""
    exceeded = [name for name, q in a.items() if name in b and q.value > b[name].value]
    return not exceeded, exceeded


def remove_zeros(values: ResourceList) -> ResourceList:
    return {name: q for name, q in values.items() if q.value != 0}


def is_negative(values: ResourceList) -> list[str]:
    return [name for name, q in values.items() if q.value < 0]


def equals(a: ResourceList, b: ResourceList) -> bool:
    return a.keys() == b.keys() and all(a[name].value == b[name].value for name in a)


def pretty(values: ResourceList) -> str:
    """prettyPrint: `name=value` sorted by name, comma-separated."""
    return ",".join(f"{name}={values[name]}" for name in sorted(values))


def _intersection(names: Iterable[str], allowed: Iterable[str]) -> list[str]:
    known = set(allowed)
    return sorted({name for name in names if name in known})


# ---------------------------------------------------------------------- pod requests and limits


def _container_list(container: Obj, field: str) -> ResourceList:
    return parse_list(((container.get("resources") or {}).get(field)) or {})


def _add_into(total: ResourceList, more: ResourceList) -> None:
    for name, q in more.items():
        total[name] = total[name] + q if name in total else q


def _max_into(total: ResourceList, more: ResourceList) -> None:
    for name, q in more.items():
        if name not in total or q.value > total[name].value:
            total[name] = q


def _aggregate(spec: Obj, field: str) -> ResourceList:
    """component-helpers' AggregateContainerRequests/Limits: the app containers plus the sidecars (init
    containers with restartPolicy Always), or more while an init container runs beside the sidecars started
    before it."""
    total: ResourceList = {}
    for container in spec.get("containers") or []:
        _add_into(total, _container_list(container, field))
    sidecars: ResourceList = {}
    init_peak: ResourceList = {}
    for container in spec.get("initContainers") or []:
        own = _container_list(container, field)
        if container.get("restartPolicy") == "Always":
            _add_into(total, own)
            _add_into(sidecars, own)
            running = dict(sidecars)
        else:
            running = dict(own)
            _add_into(running, sidecars)
        _max_into(init_peak, running)
    _max_into(total, init_peak)
    return total


def pod_requests(spec: Obj, *, overhead: bool = True) -> ResourceList:
    """PodRequests: what the pod's containers request, plus the pod's overhead unless `overhead` is False."""
    total = _aggregate(spec, "requests")
    if overhead:
        _add_into(total, parse_list(spec.get("overhead")))
    return total


def pod_limits(spec: Obj, *, overhead: bool = True) -> ResourceList:
    """PodLimits: the containers' limits; the overhead is added only to resources that have a limit."""
    total = _aggregate(spec, "limits")
    if overhead:
        for name, q in parse_list(spec.get("overhead")).items():
            if name in total:
                total[name] = total[name] + q
    return total


# ---------------------------------------------------------------------- evaluators


def object_count_name(group: str, resource: str) -> str:
    """ObjectCountQuotaResourceNameFor: count/<resource> in the core group, count/<resource>.<group> elsewhere."""
    return f"count/{resource}.{group}" if group else f"count/{resource}"


def scope_selectors(quota: Obj) -> list[dict[str, Any]]:
    """The quota's scopes (as Exists requirements), then its scopeSelector's expressions."""
    spec = quota.get("spec") or {}
    out: list[dict[str, Any]] = [{"scopeName": s, "operator": "Exists"} for s in spec.get("scopes") or []]
    out.extend((spec.get("scopeSelector") or {}).get("matchExpressions") or [])
    return out


class Evaluator:
    """How one resource is measured for quota (quota.Evaluator); scopes match nothing unless overridden."""

    group = ""
    resource = ""
    operations: tuple[str, ...] = ("CREATE",)

    def handles(self, operation: str) -> bool:
        return operation in self.operations

    def matching_resources(self, names: Iterable[str]) -> list[str]:
        raise NotImplementedError

    def matches_scope(self, selector: Obj, obj: Obj) -> bool:
        return False  # generic.MatchesNoScopeFunc

    def constraints(self, required: list[str], obj: Obj) -> str | None:
        """Why obj cannot be admitted under a quota that tracks `required` (None: it can)."""
        return None

    def usage(self, obj: Obj, now: datetime | None = None) -> ResourceList:
        raise NotImplementedError


def matches(evaluator: Evaluator, quota: Obj, obj: Obj) -> bool:
    """generic.Matches: the quota's status.hard tracks a resource of the evaluator and every scope holds."""
    hard = ((quota.get("status") or {}).get("hard")) or {}
    if not evaluator.matching_resources(hard):
        return False
    return all(evaluator.matches_scope(selector, obj) for selector in scope_selectors(quota))


class ObjectCountEvaluator(Evaluator):
    """generic's objectCountEvaluator: each object counts 1 under count/<resource>[.<group>] (and a legacy
    alias such as `configmaps`)."""

    def __init__(self, group: str, resource: str, alias: str = "") -> None:
        self.group, self.resource = group, resource
        self.names = [object_count_name(group, resource), *([alias] if alias else [])]

    def matching_resources(self, names: Iterable[str]) -> list[str]:
        return _intersection(names, self.names)

    def usage(self, obj: Obj, now: datetime | None = None) -> ResourceList:
        return {name: Quantity.of(1) for name in self.names}


# pods ------------------------------------------------------------------------------------------------------

_POD_RESOURCES = (
    object_count_name("", "pods"), "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods",
)
_POD_PREFIXES = ("hugepages-", "requests.hugepages-")
#: "it was a mistake, but if a quota tracks cpu or memory related resources, the incoming pod is required to have
#: those values set" (pods.go validationSet)
_VALIDATION_SET = frozenset({"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"})


def _native(name: str) -> bool:
    """helper.IsNativeResource: no domain, or a kubernetes.io one."""
    return "/" not in name or "kubernetes.io/" in name


def _extended(name: str) -> bool:
    """helper.IsExtendedResourceName: a domain-qualified, non-kubernetes.io resource (e.g. nvidia.com/gpu)."""
    return not _native(name) and not name.startswith("requests.")


def _compute_usage(requests: ResourceList, limits: ResourceList) -> ResourceList:
    """podComputeUsageHelper."""
    out: ResourceList = {"pods": Quantity.of(1)}
    for resource in ("cpu", "memory", "ephemeral-storage"):
        if resource in requests:
            out[resource] = requests[resource]
            out[f"requests.{resource}"] = requests[resource]
        if resource in limits:
            out[f"limits.{resource}"] = limits[resource]
    for name, q in requests.items():
        if name.startswith("hugepages-"):
            out[name] = q
            out[f"requests.{name}"] = q
        if _extended(name):
            out[f"requests.{name}"] = q
    return out


def _best_effort(spec: Obj) -> bool:
    """qos.GetPodQOS == BestEffort: no container requests or limits any cpu or memory."""
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        for field in ("requests", "limits"):
            listed = _container_list(container, field)
            if any(listed[r].value != 0 for r in ("cpu", "memory") if r in listed):
                return False
    return True


def _terminating(spec: Obj) -> bool:
    deadline = spec.get("activeDeadlineSeconds")
    return deadline is not None and deadline >= 0


def _cross_namespace_affinity(spec: Obj) -> bool:
    affinity = spec.get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        terms = affinity.get(kind) or {}
        listed = [*(terms.get("requiredDuringSchedulingIgnoredDuringExecution") or []),
                  *((t.get("podAffinityTerm") or {})
                    for t in terms.get("preferredDuringSchedulingIgnoredDuringExecution") or [])]
        if any(t.get("namespaces") or t.get("namespaceSelector") is not None for t in listed):
            return True
    return False


def quota_v1_pod(pod: Obj, now: datetime | None = None) -> bool:
    """QuotaV1Pod: a pod is charged compute resources unless terminal, or terminating past its grace period."""
    if (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
        return False
    meta = pod.get("metadata") or {}
    deleted, grace = meta.get("deletionTimestamp"), meta.get("deletionGracePeriodSeconds")
    expired = deleted and grace is not None and \
        (now or datetime.now(UTC)) > timeutil.parse(deleted) + timedelta(seconds=int(grace))
    return not expired


class PodEvaluator(Evaluator):
    resource = "pods"

    def matching_resources(self, names: Iterable[str]) -> list[str]:
        names = list(names)
        found = set(_intersection(names, _POD_RESOURCES))
        found.update(n for n in names if n.startswith(_POD_PREFIXES) or (not _native(n) and n.startswith("requests.")))
        return sorted(found)

    def matches_scope(self, selector: Obj, obj: Obj) -> bool:
        spec = obj.get("spec") or {}
        scope = selector.get("scopeName")
        if scope == "Terminating":
            return _terminating(spec)
        if scope == "NotTerminating":
            return not _terminating(spec)
        if scope == "BestEffort":
            return _best_effort(spec)
        if scope == "NotBestEffort":
            return not _best_effort(spec)
        if scope == "PriorityClass":
            name = spec.get("priorityClassName") or ""
            if selector.get("operator") == "Exists":
                return bool(name)
            requirement = labels.Requirement("PriorityClass", selector.get("operator") or "",
                                             tuple(selector.get("values") or ()))
            try:
                return requirement.matches({"PriorityClass": name} if name else {})
            except ValueError:
                return False
        if scope == "CrossNamespacePodAffinity":
            return _cross_namespace_affinity(spec)
        return False

    def constraints(self, required: list[str], obj: Obj) -> str | None:
        wanted = set(required) & _VALIDATION_SET
        spec = obj.get("spec") or {}
        missing: dict[str, set[str]] = {}
        for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
            has = _compute_usage(_container_list(container, "requests"), _container_list(container, "limits"))
            for resource in wanted - set(has):
                missing.setdefault(resource, set()).add(container.get("name") or "")
        if not missing:
            return None
        return "must specify " + "; ".join(f"{resource} for: {','.join(sorted(missing[resource]))}"
                                            for resource in sorted(missing))

    def usage(self, obj: Obj, now: datetime | None = None) -> ResourceList:
        out: ResourceList = {object_count_name("", "pods"): Quantity.of(1)}  # count/pods: every stored pod
        if not quota_v1_pod(obj, now):
            return out
        spec = obj.get("spec") or {}
        return add(out, _compute_usage(pod_requests(spec), pod_limits(spec)))


# services ----------------------------------------------------------------------------------------------------

class ServiceEvaluator(Evaluator):
    resource = "services"
    operations = ("CREATE", "UPDATE")  # a Service's type can change
    _resources = (object_count_name("", "services"), "services", "services.nodeports", "services.loadbalancers")

    def matching_resources(self, names: Iterable[str]) -> list[str]:
        return _intersection(names, self._resources)

    def usage(self, obj: Obj, now: datetime | None = None) -> ResourceList:
        spec = obj.get("spec") or {}
        ports = spec.get("ports") or []
        out: ResourceList = {object_count_name("", "services"): Quantity.of(1), "services": Quantity.of(1),
                             "services.loadbalancers": _ZERO, "services.nodeports": _ZERO}
        kind = spec.get("type")
        if kind == "NodePort":
            out["services.nodeports"] = Quantity.of(len(ports))
        elif kind == "LoadBalancer":
            if spec.get("allocateLoadBalancerNodePorts") is False:  # only the ports that ask for a node port
                out["services.nodeports"] = Quantity.of(sum(1 for p in ports if p.get("nodePort")))
            else:
                out["services.nodeports"] = Quantity.of(len(ports))
            out["services.loadbalancers"] = Quantity.of(1)
        return out


# persistent volume claims --------------------------------------------------------------------------------------

_STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
_PVC_RESOURCES = ("persistentvolumeclaims", "requests.storage")


class PvcEvaluator(Evaluator):
    resource = "persistentvolumeclaims"
    operations = ("CREATE", "UPDATE")

    def matching_resources(self, names: Iterable[str]) -> list[str]:
        count = object_count_name("", "persistentvolumeclaims")
        return sorted({n for n in names if n == count or n in _PVC_RESOURCES
                       or any(n.endswith(_STORAGE_CLASS_SUFFIX + r) for r in _PVC_RESOURCES)})

    def usage(self, obj: Obj, now: datetime | None = None) -> ResourceList:
        out: ResourceList = {"persistentvolumeclaims": Quantity.of(1),
                             object_count_name("", "persistentvolumeclaims"): Quantity.of(1)}
        meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
        klass = (meta.get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class",
                                                     spec.get("storageClassName") or "")
        if klass:
            out[f"{klass}{_STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = Quantity.of(1)
        requested = parse_list((spec.get("resources") or {}).get("requests")).get("storage")
        allocated = parse_list((obj.get("status") or {}).get("allocatedResources")).get("storage")
        if requested is not None and allocated is not None and allocated.value > requested.value:
            requested = allocated
        if requested is not None:
            # counted in whole bytes (issue 94313)
            requested = Quantity(requested.value.to_integral_value(decimal.ROUND_UP), requested.format)
            out["requests.storage"] = requested
            if klass:
                out[f"{klass}{_STORAGE_CLASS_SUFFIX}requests.storage"] = requested
        return out


# the registry --------------------------------------------------------------------------------------------------

#: quota/v1/install: kinds that are not stored, or were never quota'ed (events)
IGNORED = frozenset({
    ("", "bindings"), ("", "componentstatuses"), ("", "events"), ("events.k8s.io", "events"),
    ("authentication.k8s.io", "tokenreviews"), ("authentication.k8s.io", "selfsubjectreviews"),
    ("authorization.k8s.io", "subjectaccessreviews"), ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "localsubjectaccessreviews"), ("authorization.k8s.io", "selfsubjectrulesreviews"),
})
#: evaluator/core/registry.go legacyObjectCountAliases
_LEGACY_ALIASES = {"configmaps": "configmaps", "resourcequotas": "resourcequotas",
                   "replicationcontrollers": "replicationcontrollers", "secrets": "secrets"}
_CORE: dict[tuple[str, str], Evaluator] = {
    ("", "pods"): PodEvaluator(), ("", "services"): ServiceEvaluator(), ("", "persistentvolumeclaims"): PvcEvaluator(),
    **{("", r): ObjectCountEvaluator("", r, alias) for r, alias in _LEGACY_ALIASES.items()},
}
_GENERIC: dict[tuple[str, str], Evaluator] = {}


def evaluator_for(group: str, resource: str) -> Evaluator | None:
    """The evaluator of a resource: a core one, else an object counter (None for ignored resources)."""
    if (group, resource) in IGNORED:
        return None
    key = (group, resource)
    if key in _CORE:
        return _CORE[key]
    if key not in _GENERIC:
        _GENERIC[key] = ObjectCountEvaluator(group, resource)
    return _GENERIC[key]


def core_evaluators() -> list[Evaluator]:
    return list(_CORE.values())


def evaluators_for_hard(names: Iterable[str]) -> list[Evaluator]:
    """The core evaluators, plus an object counter for every other count/<resource>[.<group>] in `names`."""
    out = core_evaluators()
    for name in names:
        if not name.startswith("count/"):
            continue
        resource, _, group = name[len("count/"):].partition(".")
        evaluator = evaluator_for(group, resource)
        if evaluator is not None and evaluator not in out:
            out.append(evaluator)
    return out


def calculate_usage(quota: Obj, evaluators: Iterable[Evaluator], objects: Callable[[Evaluator], Iterable[Obj]],
                    now: datetime | None = None) -> ResourceList:
    """quota.CalculateUsage: the usage of what `objects(evaluator)` lists (the quota's namespace), for the
    resources of spec.hard some evaluator tracks, counting only objects in the quota's scopes. Every tracked
    resource is present, zero when nothing uses it."""
    hard = list(((quota.get("spec") or {}).get("hard")) or {})
    evaluators = list(evaluators)
    matched = {name for e in evaluators for name in e.matching_resources(hard)}
    selectors = scope_selectors(quota)
    used: ResourceList = {}
    for evaluator in evaluators:
        tracked = evaluator.matching_resources(matched)
        if not tracked:
            continue
        stats: ResourceList = dict.fromkeys(tracked, _ZERO)
        for obj in objects(evaluator):
            if all(evaluator.matches_scope(s, obj) for s in selectors):
                stats = add(stats, evaluator.usage(obj, now))
        used = add(used, stats)
    return mask(used, matched)
