"""The scheduling framework's vocabulary: what plugins see (PodInfo, NodeInfo), what they return (Status), the
per-cycle scratch space (CycleState), the cluster events that wake waiting pods, and the FitError message.

Shaped after kube-scheduler's `pkg/scheduler/framework`: a pod is parsed once into a PodInfo (requests, ports,
affinity terms, tolerations), a node's pods are summed up incrementally in a NodeInfo, filter plugins say whether
a pod may go on a node (and why not, in the words that end up in the FailedScheduling event), score plugins rank
the nodes that passed. Plugins live in `scheduler.plugins`; the runner is `scheduler.profile`.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kube import labels as klabels
from kube import quantity, scheduling

if TYPE_CHECKING:
    from scheduler.cache import Cache

__all__ = [
    "DEFAULT_MEMORY_BYTES",
    "DEFAULT_MILLI_CPU",
    "MAX_NODE_SCORE",
    "AffinityTerm",
    "Code",
    "CycleState",
    "Event",
    "FitError",
    "Handle",
    "NodeInfo",
    "NodeSelectorMatcher",
    "PodInfo",
    "Status",
    "failure_message",
    "normalized_image_name",
]

Obj = dict[str, Any]

MAX_NODE_SCORE = 100
# What kube-scheduler assumes for scoring when a container requests nothing, so best-effort pods still spread.
DEFAULT_MILLI_CPU = 100
DEFAULT_MEMORY_BYTES = 200 * 1024 * 1024
DEFAULT_MAX_PODS = 110  # when a node reports no pod capacity (kube-scheduler would say "Too many pods")


class Code(enum.IntEnum):
    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2  # preemption may help
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3  # removing pods cannot help (taints, selectors, ...)
    SKIP = 4  # a PreFilter/PreScore plugin has nothing to do for this pod


@dataclass(frozen=True, slots=True)
class Status:
    """A plugin's verdict. Filters return None for success (the hot path), a Status otherwise."""

    code: Code = Code.SUCCESS
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def ok(self) -> bool:
        return self.code == Code.SUCCESS

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    @classmethod
    def unschedulable(cls, *reasons: str) -> Status:
        return cls(Code.UNSCHEDULABLE, reasons)

    @classmethod
    def unresolvable(cls, *reasons: str) -> Status:
        return cls(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons)

    @classmethod
    def error(cls, message: str) -> Status:
        return cls(Code.ERROR, (message,))

    def with_plugin(self, name: str) -> Status:
        return Status(self.code, self.reasons, name)


SKIP = Status(Code.SKIP)


class Event(enum.StrEnum):
    """Cluster events that can make a pod rejected by some plugin schedulable (kube's ClusterEvent)."""

    NODE_ADD = "NodeAdd"
    NODE_DELETE = "NodeDelete"
    NODE_LABEL = "NodeLabelChange"
    NODE_TAINT = "NodeTaintChange"
    NODE_ALLOCATABLE = "NodeAllocatableChange"
    NODE_CONDITION = "NodeConditionChange"
    NODE_SCHEDULABLE = "NodeSpecUnschedulableChange"
    NODE_IMAGES = "NodeImagesChange"
    ASSIGNED_POD_ADD = "AssignedPodAdd"
    ASSIGNED_POD_DELETE = "AssignedPodDelete"
    ASSIGNED_POD_LABEL = "AssignedPodLabelChange"
    ASSIGNED_POD_SCALE_DOWN = "AssignedPodScaleDown"
    NAMESPACE_LABEL = "NamespaceLabelChange"
    PVC_CHANGE = "PersistentVolumeClaimChange"
    PV_CHANGE = "PersistentVolumeChange"
    STORAGE_CLASS_CHANGE = "StorageClassChange"
    FORCE = "UnschedulableTimeout"  # the periodic flush: every plugin is interested


class CycleState(dict[str, Any]):
    """Per scheduling cycle data, keyed by plugin name. `clone` copies plugin states that know how (for preemption's
    what-if runs) and shares the rest."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.skip_filter: set[str] = set()
        self.node_names: set[str] | None = None  # a PreFilter's result: only these nodes can fit
        self.restricted_by: list[str] = []

    def restrict(self, plugin: str, names: set[str]) -> None:
        """A PreFilter plugin knows the pod fits at most these nodes (kube's PreFilterResult)."""
        self.node_names = set(names) if self.node_names is None else self.node_names & names
        self.restricted_by.append(plugin)

    def clone(self) -> CycleState:
        out = CycleState({k: (v.clone() if hasattr(v, "clone") else v) for k, v in self.items()})
        out.skip_filter = set(self.skip_filter)
        out.node_names = self.node_names
        out.restricted_by = list(self.restricted_by)
        return out


# ---------------------------------------------------------------------------------------------- requests


def _amount(name: str, value: Any) -> int:
    return quantity.cpu_millis(value) if name == "cpu" else quantity.memory_bytes(value)


def _non_zero_requests(pod: Obj) -> tuple[int, int]:
    """cpu and memory for scoring, with kube-scheduler's defaults for containers that request nothing."""
    spec = pod.get("spec") or {}
    cpu = mem = 0
    for c in spec.get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        cpu += quantity.cpu_millis(req["cpu"]) if "cpu" in req else DEFAULT_MILLI_CPU
        mem += quantity.memory_bytes(req["memory"]) if "memory" in req else DEFAULT_MEMORY_BYTES
    for c in spec.get("initContainers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        cpu = max(cpu, quantity.cpu_millis(req["cpu"]) if "cpu" in req else DEFAULT_MILLI_CPU)
        mem = max(mem, quantity.memory_bytes(req["memory"]) if "memory" in req else DEFAULT_MEMORY_BYTES)
    overhead = spec.get("overhead") or {}
    if "cpu" in overhead:
        cpu += quantity.cpu_millis(overhead["cpu"])
    if "memory" in overhead:
        mem += quantity.memory_bytes(overhead["memory"])
    return cpu, mem


# ---------------------------------------------------------------------------------------------- matching


def normalized_image_name(image: str) -> str:
    """`nginx` -> `nginx:latest`, as kube-scheduler's ImageLocality compares names."""
    if "@" in image or ":" in image.rsplit("/", 1)[-1]:
        return image
    return f"{image}:latest"


class NodeSelectorMatcher:
    """A core/v1 NodeSelector: terms ORed; within a term, matchExpressions (labels) and matchFields
    (metadata.name) ANDed. A term without requirements, or one that does not parse, matches nothing."""

    __slots__ = ("terms",)

    def __init__(self, terms: list[Obj]) -> None:
        self.terms: list[tuple[tuple[klabels.Requirement, ...], tuple[klabels.Requirement, ...]] | None] = [
            _parse_term(t) for t in terms]

    def matches(self, node_labels: dict[str, str], node_name: str) -> bool:
        return any(term is not None and _term_matches(term, node_labels, node_name) for term in self.terms)


_NODE_OPS = {"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"}


def _parse_term(term: Obj | None) -> tuple[tuple[klabels.Requirement, ...], tuple[klabels.Requirement, ...]] | None:
    term = term or {}
    exprs: list[klabels.Requirement] = []
    fields: list[klabels.Requirement] = []
    for e in term.get("matchExpressions") or []:
        op = e.get("operator")
        values = tuple(str(v) for v in e.get("values") or ())
        if op not in _NODE_OPS or not e.get("key"):
            return None
        if op in ("Gt", "Lt"):
            if len(values) != 1:
                return None
            try:
                int(values[0])
            except ValueError:
                return None
        exprs.append(klabels.Requirement(e["key"], op, values))
    for f in term.get("matchFields") or []:
        if f.get("key") != "metadata.name" or f.get("operator") not in ("In", "NotIn"):
            return None
        fields.append(klabels.Requirement("metadata.name", f["operator"], tuple(f.get("values") or ())))
    if not exprs and not fields:
        return None
    return tuple(exprs), tuple(fields)


def _term_matches(term: tuple[tuple[klabels.Requirement, ...], tuple[klabels.Requirement, ...]],
                  node_labels: dict[str, str], node_name: str) -> bool:
    exprs, fields = term
    if any(not r.matches(node_labels) for r in exprs):
        return False
    return not fields or all(r.matches({"metadata.name": node_name}) for r in fields)


class AffinityTerm:
    """A parsed PodAffinityTerm: which pods it selects (namespaces, namespaceSelector, labelSelector) and over
    which topology. `weight` is set for preferred terms."""

    __slots__ = ("namespace_selector", "namespaces", "selector", "topology_key", "weight")

    def __init__(self, owner: Obj, term: Obj, weight: int = 0) -> None:
        meta = owner.get("metadata") or {}
        owner_labels = meta.get("labels") or {}
        self.topology_key: str = term.get("topologyKey") or ""
        self.weight = weight
        selector = term.get("labelSelector")
        if selector is None:
            self.selector: klabels.Selector | None = None  # selects nothing
        else:
            sel = klabels.from_label_selector(selector)
            extra = [klabels.Requirement(k, "In", (owner_labels[k],))
                     for k in term.get("matchLabelKeys") or () if k in owner_labels]
            extra += [klabels.Requirement(k, "NotIn", (owner_labels[k],))
                      for k in term.get("mismatchLabelKeys") or () if k in owner_labels]
            self.selector = klabels.Selector(sel.requirements + tuple(extra)) if extra else sel
            for r in self.selector.requirements:
                if r.operator not in ("In", "NotIn", "Exists", "DoesNotExist", "Equals", "NotEquals"):
                    raise ValueError(f"{r.operator!r} is not a valid label selector operator")
        ns_selector = term.get("namespaceSelector")
        namespaces = set(term.get("namespaces") or ())
        if not namespaces and ns_selector is None:
            namespaces = {meta.get("namespace") or "default"}
        self.namespaces = frozenset(namespaces)
        self.namespace_selector = None if ns_selector is None else klabels.from_label_selector(ns_selector)

    def matches(self, pod: PodInfo, namespace_labels: Any) -> bool:
        """Does `pod` fall under this term? `namespace_labels(ns)` is consulted only for a namespaceSelector."""
        if self.selector is None:
            return False
        if pod.namespace not in self.namespaces and (
                self.namespace_selector is None
                or not self.namespace_selector.matches(namespace_labels(pod.namespace))):
            return False
        return self.selector.matches(pod.labels)


# ---------------------------------------------------------------------------------------------- PodInfo


class PodInfo:
    """A pod parsed once for scheduling. Rebuilt when the pod object changes; never mutated afterwards."""

    __slots__ = (
        "claims",
        "has_affinity",
        "host_ports",
        "images",
        "key",
        "label_group",
        "labels",
        "name",
        "namespace",
        "node_name",
        "node_selector",
        "nominated_node_name",
        "non_zero_cpu",
        "non_zero_mem",
        "owner",
        "parse_error",
        "pod",
        "preemption_policy",
        "preferred_affinity",
        "preferred_anti_affinity",
        "preferred_node_affinity",
        "priority",
        "requests",
        "required_affinity",
        "required_anti_affinity",
        "required_node_affinity",
        "scheduler_name",
        "spread_constraints",
        "start_time",
        "terminating",
        "tolerations",
        "uid",
    )

    def __init__(self, pod: Obj, priority: int = 0, preemption_policy: str | None = None) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        self.pod = pod
        self.namespace: str = meta.get("namespace") or "default"
        self.name: str = meta.get("name") or ""
        self.key = f"{self.namespace}/{self.name}"
        self.uid: str | None = meta.get("uid")
        self.labels: dict[str, str] = meta.get("labels") or {}
        # Pods of one app share namespace and labels: nodes count them by this key, so selectors are matched
        # once per distinct label set rather than once per pod.
        self.label_group: tuple[str, tuple[tuple[str, str], ...]] = (self.namespace, tuple(sorted(self.labels.items())))
        self.priority = priority
        self.preemption_policy = spec.get("preemptionPolicy") or preemption_policy or "PreemptLowerPriority"
        self.node_name: str | None = spec.get("nodeName")
        self.terminating = bool(meta.get("deletionTimestamp"))
        self.scheduler_name: str = spec.get("schedulerName") or "default-scheduler"
        self.nominated_node_name: str | None = status.get("nominatedNodeName")
        self.start_time: str = status.get("startTime") or meta.get("creationTimestamp") or ""
        self.tolerations: list[Obj] = spec.get("tolerations") or []
        self.node_selector: dict[str, str] = spec.get("nodeSelector") or {}
        self.spread_constraints: list[Obj] = spec.get("topologySpreadConstraints") or []
        self.owner: Obj | None = next(
            (o for o in meta.get("ownerReferences") or () if o.get("controller")), None)
        self.parse_error: str | None = None
        self.required_node_affinity: NodeSelectorMatcher | None = None
        self.preferred_node_affinity: list[tuple[int, NodeSelectorMatcher]] = []
        self.required_affinity: list[AffinityTerm] = []
        self.required_anti_affinity: list[AffinityTerm] = []
        self.preferred_affinity: list[AffinityTerm] = []
        self.preferred_anti_affinity: list[AffinityTerm] = []
        try:
            self.requests = scheduling.pod_requests(pod.get("spec") or {})
            self.non_zero_cpu, self.non_zero_mem = _non_zero_requests(pod)
        except ValueError as exc:
            self.requests, self.non_zero_cpu, self.non_zero_mem = {}, DEFAULT_MILLI_CPU, DEFAULT_MEMORY_BYTES
            self.parse_error = str(exc)
        self.host_ports: list[tuple[str, str, int]] = [
            (p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", int(p["hostPort"]))
            for c in spec.get("containers") or () for p in c.get("ports") or () if p.get("hostPort")]
        self.claims: list[str] = [v["persistentVolumeClaim"]["claimName"] for v in spec.get("volumes") or ()
                                  if (v.get("persistentVolumeClaim") or {}).get("claimName")]
        self.images = [normalized_image_name(c["image"])
                       for c in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]
                       if c.get("image")]
        affinity = spec.get("affinity") or {}
        node_affinity = affinity.get("nodeAffinity") or {}
        pod_affinity = affinity.get("podAffinity") or {}
        anti_affinity = affinity.get("podAntiAffinity") or {}
        self.has_affinity = bool(pod_affinity or anti_affinity)
        try:
            required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
            if required is not None:
                self.required_node_affinity = NodeSelectorMatcher(required.get("nodeSelectorTerms") or [])
            self.preferred_node_affinity = [
                (int(t.get("weight") or 0), NodeSelectorMatcher([t.get("preference") or {}]))
                for t in node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
                if t.get("weight")]
            req = "requiredDuringSchedulingIgnoredDuringExecution"
            pref = "preferredDuringSchedulingIgnoredDuringExecution"
            self.required_affinity = [AffinityTerm(pod, t) for t in pod_affinity.get(req) or ()]
            self.required_anti_affinity = [AffinityTerm(pod, t) for t in anti_affinity.get(req) or ()]
            self.preferred_affinity = [AffinityTerm(pod, t.get("podAffinityTerm") or {}, int(t.get("weight") or 0))
                                       for t in pod_affinity.get(pref) or ()]
            self.preferred_anti_affinity = [
                AffinityTerm(pod, t.get("podAffinityTerm") or {}, int(t.get("weight") or 0))
                for t in anti_affinity.get(pref) or ()]
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self.parse_error = f"invalid affinity: {exc}"

    def __repr__(self) -> str:
        return f"PodInfo({self.key}, node={self.node_name}, priority={self.priority})"

    def with_node(self, node_name: str) -> PodInfo:
        """A copy placed on `node_name` (an assumed pod), sharing everything parsed."""
        clone = object.__new__(PodInfo)
        for slot in PodInfo.__slots__:
            setattr(clone, slot, getattr(self, slot))
        clone.pod = {**self.pod, "spec": {**(self.pod.get("spec") or {}), "nodeName": node_name}}
        clone.node_name = node_name
        return clone


# ---------------------------------------------------------------------------------------------- NodeInfo


_CONDITION_TAINTS = {"False": "node.kubernetes.io/not-ready", "Unknown": "node.kubernetes.io/unreachable"}


class NodeInfo:
    """A node with the pods placed on it (bound or assumed), kept up to date incrementally by the cache."""

    __slots__ = (
        "affinity_pods",
        "alloc_cpu",
        "alloc_mem",
        "allocatable",
        "allowed_pods",
        "anti_affinity_pods",
        "condition_taint",
        "hard_taints",
        "images",
        "label_groups",
        "labels",
        "name",
        "node",
        "non_zero_cpu",
        "non_zero_mem",
        "pods",
        "prefer_taints",
        "req_cpu",
        "req_mem",
        "requested",
        "taints",
        "unschedulable",
        "used_ports",
    )

    def __init__(self, node: Obj | None = None, name: str | None = None) -> None:
        self.pods: dict[str, PodInfo] = {}
        self.requested: Counter[str] = Counter()
        self.non_zero_cpu = 0
        self.non_zero_mem = 0
        self.used_ports: Counter[tuple[str, str, int]] = Counter()
        self.label_groups: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()  # running pods per label set
        self.affinity_pods = 0  # pods with any pod (anti-)affinity
        self.anti_affinity_pods = 0  # pods with required anti-affinity
        self.node: Obj | None = None
        self.name = name or ""
        self.labels: dict[str, str] = {}
        self.taints: list[Obj] = []
        self.hard_taints: list[Obj] = []
        self.prefer_taints: list[Obj] = []
        self.unschedulable = False
        self.condition_taint: Obj | None = None
        self.allocatable: dict[str, int] = {}
        self.alloc_cpu = 0  # the hot resources also as plain ints: plugins read them for every node
        self.alloc_mem = 0
        self.req_cpu = 0
        self.req_mem = 0
        self.allowed_pods = 0
        self.images: dict[str, int] = {}
        if node is not None:
            self.set_node(node)

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)})"

    def set_node(self, node: Obj) -> None:
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        self.node = node
        self.name = meta.get("name") or self.name
        self.labels = meta.get("labels") or {}
        self.taints = spec.get("taints") or []
        self.hard_taints = [t for t in self.taints if t.get("effect") in ("NoSchedule", "NoExecute")]
        self.prefer_taints = [t for t in self.taints if t.get("effect") == "PreferNoSchedule"]
        self.unschedulable = bool(spec.get("unschedulable"))
        ready = next((c.get("status") for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
        taint_key = None if ready == "True" else _CONDITION_TAINTS.get(ready or "False", _CONDITION_TAINTS["False"])
        self.condition_taint = {"key": taint_key, "effect": "NoSchedule"} if taint_key else None
        alloc = status.get("allocatable") or status.get("capacity") or {}
        parsed: dict[str, int] = {}
        for name, value in alloc.items():
            if name == "pods":
                continue
            try:
                parsed[name] = _amount(name, value)
            except ValueError:
                continue
        self.allocatable = parsed
        self.alloc_cpu = parsed.get("cpu", 0)
        self.alloc_mem = parsed.get("memory", 0)
        try:
            self.allowed_pods = int(alloc.get("pods", DEFAULT_MAX_PODS))
        except (TypeError, ValueError):
            self.allowed_pods = DEFAULT_MAX_PODS
        images: dict[str, int] = {}
        for image in status.get("images") or ():
            for image_name in image.get("names") or ():
                images[normalized_image_name(image_name)] = int(image.get("sizeBytes") or 0)
        self.images = images

    def add_pod(self, pod: PodInfo) -> None:
        old = self.pods.get(pod.key)
        if old is not None:
            self._account(old, -1)
        self.pods[pod.key] = pod
        self._account(pod, 1)

    def remove_pod(self, key: str) -> PodInfo | None:
        old = self.pods.pop(key, None)
        if old is not None:
            self._account(old, -1)
        return old

    def _account(self, pod: PodInfo, sign: int) -> None:
        for name, amount in pod.requests.items():
            self.requested[name] += sign * amount
        self.req_cpu = self.requested.get("cpu", 0)
        self.req_mem = self.requested.get("memory", 0)
        self.non_zero_cpu += sign * pod.non_zero_cpu
        self.non_zero_mem += sign * pod.non_zero_mem
        for port in pod.host_ports:
            self.used_ports[port] += sign
            if self.used_ports[port] <= 0:
                del self.used_ports[port]
        if not pod.terminating:
            group = pod.label_group
            self.label_groups[group] += sign
            if self.label_groups[group] <= 0:
                del self.label_groups[group]
        if pod.has_affinity:
            self.affinity_pods += sign
        if pod.required_anti_affinity:
            self.anti_affinity_pods += sign

    def clone(self) -> NodeInfo:
        out = object.__new__(NodeInfo)
        for slot in NodeInfo.__slots__:
            setattr(out, slot, getattr(self, slot))
        out.pods = dict(self.pods)
        out.requested = Counter(self.requested)
        out.used_ports = Counter(self.used_ports)
        out.label_groups = Counter(self.label_groups)
        return out

    def port_conflict(self, ip: str, protocol: str, port: int) -> bool:
        """kube's HostPortInfo.CheckConflict: 0.0.0.0 conflicts with every address, others with 0.0.0.0 or
        the same address."""
        if port <= 0:
            return False
        if ip == "0.0.0.0":
            return any(p == port and proto == protocol for (_, proto, p) in self.used_ports)
        return (("0.0.0.0", protocol, port) in self.used_ports) or ((ip, protocol, port) in self.used_ports)


# ---------------------------------------------------------------------------------------------- messages


def _histogram(statuses: dict[str, Status]) -> list[str]:
    counts: Counter[str] = Counter()
    for status in statuses.values():
        counts.update(status.reasons)
    return sorted(f"{n} {reason}" for reason, n in counts.items())


def failure_message(total_nodes: int, failures: dict[str, Status], pre_filter_msg: str = "",
                    post_filter_msg: str = "") -> str:
    """kube-scheduler's FitError text: `0/3 nodes are available: 1 node(s) had untolerated taint {k: v},
    2 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.`
    Reasons are counted per node and sorted as strings, as kube-scheduler does."""
    message = f"0/{total_nodes} nodes are available:"
    if pre_filter_msg:
        message += f" {pre_filter_msg}."
    else:
        parts = _histogram(failures)
        if parts:
            message += f" {', '.join(parts)}."
    if post_filter_msg:
        message += f" {post_filter_msg}"
    return message


@dataclass
class FitError(Exception):
    """No node fits the pod; `str()` is the FailedScheduling message."""

    pod: PodInfo
    num_all_nodes: int
    statuses: dict[str, Status] = field(default_factory=dict)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""
    unschedulable_plugins: set[str] = field(default_factory=set)
    state: CycleState | None = None

    def __str__(self) -> str:
        if self.num_all_nodes == 0:
            return "no nodes available to schedule pods"  # kube-scheduler's ErrNoNodesAvailable
        return failure_message(self.num_all_nodes, self.statuses, self.pre_filter_msg, self.post_filter_msg)


class Handle:
    """What plugins may read besides the pod and node at hand: the whole cache, namespace labels (for
    namespaceSelector), the selector of the Services/ReplicaSets/StatefulSets that own a pod (for the default
    topology spreading), and other objects by resource plural and key (claims, volumes, storage classes). The
    scheduler fills these in from its informers; tests pass plain functions."""

    def __init__(
        self,
        cache: Cache,
        namespace_labels: Callable[[str], dict[str, str]] | None = None,
        default_selector: Callable[[PodInfo], klabels.Selector | None] | None = None,
        lookup: Callable[[str, str], Obj | None] | None = None,
        lister: Callable[[str], list[Obj]] | None = None,
    ) -> None:
        self.cache = cache
        self.namespace_labels = namespace_labels or (lambda _ns: {})
        self.default_selector = default_selector or (lambda _pod: None)
        self.lookup = lookup or (lambda _plural, _key: None)
        self.list = lister or (lambda _plural: [])
