"""LimitRanger: the LimitRanges of a namespace default and bound what its pods and claims ask for, as Kubernetes'
plugin/pkg/admission/limitranger.

Mutating, on pod creation: every container and init container without a request or limit for a resource gets
the `defaultRequest` / `default` of each Container item, and the pod is annotated `kubernetes.io/limit-ranger`
with what was set. Validating: Container items bound each container's requests and limits (min, max,
maxLimitRequestRatio), Pod items the pod's totals (sidecars and init containers counted as the scheduler does,
overhead left out), PersistentVolumeClaim items a claim's storage request (min, max; on creation and update).
A violation is 403 Forbidden with Kubernetes' words (`maximum cpu usage per Container is 500m, but limit is 1`),
all of one LimitRange's violations together. Pod updates are not checked (containers' resources cannot change),
nor objects being deleted.

Neighbours: indexes.py (LimitRanges by namespace), kube/quota.py (quantities, pod requests and limits).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from apiserver.admission.chain import Attributes, Plugin
from apiserver.admission.indexes import NamespacedIndex
from kube import errors
from kube.quota import Quantity, ResourceList, parse_list, pod_limits, pod_requests
from kube.resources import PERSISTENTVOLUMECLAIMS, PODS, by_plural

if TYPE_CHECKING:
    from apiserver.rest import Registry

__all__ = ["LIMIT_RANGER_ANNOTATION", "LimitRanger", "aggregate", "validate_claim", "validate_pod"]

Obj = dict[str, Any]

LIMIT_RANGER_ANNOTATION = "kubernetes.io/limit-ranger"
_LIMITRANGES = by_plural("", "v1", "limitranges")
assert _LIMITRANGES is not None


def aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message as it is, several de-duplicated in brackets."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# ---------------------------------------------------------------------- defaults


def _defaults(limit_range: Obj) -> tuple[Obj, Obj]:
    """defaultContainerResourceRequirements: (requests, limits) from the Container items."""
    requests: Obj = {}
    limits: Obj = {}
    for item in (limit_range.get("spec") or {}).get("limits") or []:
        if item.get("type") == "Container":
            requests.update(item.get("defaultRequest") or {})
            limits.update(item.get("default") or {})
    return requests, limits


def _merge_container(container: Obj, requests: Obj, limits: Obj, kind: str, notes: list[str]) -> None:
    resources = container.setdefault("resources", {})
    own_limits = resources.setdefault("limits", {})
    own_requests = resources.setdefault("requests", {})
    set_limits = sorted(k for k in limits if k not in own_limits)
    set_requests = sorted(k for k in requests if k not in own_requests)
    for key in set_limits:
        own_limits[key] = limits[key]
    for key in set_requests:
        own_requests[key] = requests[key]
    if set_requests:
        notes.append(f"{', '.join(set_requests)} request for {kind} {container.get('name')}")
    if set_limits:
        notes.append(f"{', '.join(set_limits)} limit for {kind} {container.get('name')}")
    if not own_limits:
        resources.pop("limits")
    if not own_requests:
        resources.pop("requests")
    if not resources:
        container.pop("resources")


def default_pod(limit_range: Obj, pod: Obj) -> None:
    """PodMutateLimitFunc: fill in the defaults and note them in the limit-ranger annotation."""
    requests, limits = _defaults(limit_range)
    spec = pod.setdefault("spec", {})
    notes: list[str] = []
    for container in spec.get("containers") or []:
        _merge_container(container, requests, limits, "container", notes)
    for container in spec.get("initContainers") or []:
        _merge_container(container, requests, limits, "init container", notes)
    if notes:
        annotations = pod.setdefault("metadata", {}).setdefault("annotations", {})
        annotations[LIMIT_RANGER_ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)


# ---------------------------------------------------------------------- constraints


def _min(kind: str, name: str, enforced: Quantity, requests: ResourceList, limits: ResourceList) -> str | None:
    request, limit = requests.get(name), limits.get(name)
    if request is None:
        return f"minimum {name} usage per {kind} is {enforced}.  No request is specified"
    if request.milli() < enforced.milli():
        return f"minimum {name} usage per {kind} is {enforced}, but request is {request}"
    if limit is not None and limit.milli() < enforced.milli():
        return f"minimum {name} usage per {kind} is {enforced}, but limit is {limit}"
    return None


def _max(kind: str, name: str, enforced: Quantity, requests: ResourceList, limits: ResourceList) -> str | None:
    request, limit = requests.get(name), limits.get(name)
    if limit is None:
        return f"maximum {name} usage per {kind} is {enforced}.  No limit is specified"
    if limit.milli() > enforced.milli():
        return f"maximum {name} usage per {kind} is {enforced}, but limit is {limit}"
    if request is not None and request.milli() > enforced.milli():
        return f"maximum {name} usage per {kind} is {enforced}, but request is {request}"
    return None


def _max_request(kind: str, name: str, enforced: Quantity, requests: ResourceList) -> str | None:
    """maxRequestConstraint: for claims, whose limits are not user input."""
    request = requests.get(name)
    if request is None:
        return f"maximum {name} usage per {kind} is {enforced}.  No request is specified"
    if request.milli() > enforced.milli():
        return f"maximum {name} usage per {kind} is {enforced}, but request is {request}"
    return None


def _ratio(kind: str, name: str, enforced: Quantity, requests: ResourceList, limits: ResourceList) -> str | None:
    request, limit = requests.get(name), limits.get(name)
    if request is None or request.milli() == 0:
        return (f"{name} max limit to request ratio per {kind} is {enforced}, but no request is specified or "
                "request is 0")
    if limit is None or limit.milli() == 0:
        return (f"{name} max limit to request ratio per {kind} is {enforced}, but no limit is specified or "
                "limit is 0")
    observed = limit.milli() / request.milli()
    if observed * 1000 > enforced.milli():
        return f"{name} max limit to request ratio per {kind} is {enforced}, but provided ratio is {observed:f}"
    return None


def _bounds(item: Obj, requests: ResourceList, limits: ResourceList, out: list[str]) -> None:
    kind = item.get("type") or ""
    for check, field in ((_min, "min"), (_max, "max"), (_ratio, "maxLimitRequestRatio")):
        for name, enforced in parse_list(item.get(field)).items():
            if (why := check(kind, name, enforced, requests, limits)) is not None:
                out.append(why)


def _container_lists(container: Obj) -> tuple[ResourceList, ResourceList]:
    resources = container.get("resources") or {}
    return parse_list(resources.get("requests")), parse_list(resources.get("limits"))


def validate_pod(limit_range: Obj, pod: Obj) -> list[str]:
    """PodValidateLimitFunc: every violation of the LimitRange by the pod."""
    spec = pod.get("spec") or {}
    out: list[str] = []
    for item in (limit_range.get("spec") or {}).get("limits") or []:
        if item.get("type") == "Container":
            for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
                _bounds(item, *_container_lists(container), out)
        elif item.get("type") == "Pod":
            _bounds(item, pod_requests(spec, overhead=False), pod_limits(spec, overhead=False), out)
    return out


def validate_claim(limit_range: Obj, claim: Obj) -> list[str]:
    """PersistentVolumeClaimValidateLimitFunc: min and max of the storage requested."""
    requests = parse_list(((claim.get("spec") or {}).get("resources") or {}).get("requests"))
    out: list[str] = []
    for item in (limit_range.get("spec") or {}).get("limits") or []:
        if item.get("type") != "PersistentVolumeClaim":
            continue
        for name, enforced in parse_list(item.get("min")).items():
            if (why := _min("PersistentVolumeClaim", name, enforced, requests, {})) is not None:
                out.append(why)
        for name, enforced in parse_list(item.get("max")).items():
            if (why := _max_request("PersistentVolumeClaim", name, enforced, requests)) is not None:
                out.append(why)
    return out


# ---------------------------------------------------------------------- the plugin


class LimitRanger(Plugin):
    name = "LimitRanger"

    def __init__(self) -> None:
        assert _LIMITRANGES is not None
        self.index = NamespacedIndex(_LIMITRANGES)

    async def start(self, registry: Registry) -> None:
        await self.index.start(registry)

    async def stop(self) -> None:
        await self.index.stop()

    @staticmethod
    def _supports(attrs: Attributes) -> bool:
        """SupportsAttributes: pods on creation, claims on creation and update; no subresources, nothing that
        is being deleted."""
        if attrs.subresource or attrs.obj is None or not attrs.namespace:
            return False
        if (attrs.old or {}).get("metadata", {}).get("deletionTimestamp"):
            return False
        if attrs.resource is PODS:
            return attrs.operation == "CREATE"
        return attrs.resource is PERSISTENTVOLUMECLAIMS and attrs.operation in ("CREATE", "UPDATE")

    async def admit(self, attrs: Attributes) -> None:
        if attrs.resource is not PODS or not self._supports(attrs):
            return
        assert attrs.obj is not None and attrs.namespace
        for limit_range in await self.index.in_namespace(attrs.namespace):
            default_pod(limit_range, attrs.obj)

    async def validate(self, attrs: Attributes) -> None:
        if not self._supports(attrs):
            return
        assert attrs.obj is not None and attrs.namespace
        check = validate_pod if attrs.resource is PODS else validate_claim
        for limit_range in await self.index.in_namespace(attrs.namespace):
            if violations := check(limit_range, attrs.obj):
                raise errors.Forbidden.for_resource(attrs.resource.plural, attrs.name, attrs.resource.group,
                                                    aggregate(violations))
