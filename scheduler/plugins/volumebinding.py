"""VolumeBinding (the checks, not the binding): a pod's PersistentVolumeClaims must allow the node.

  - a claim that does not exist, or is being deleted: unresolvable, named in the message;
  - an unbound claim of an Immediate class: "pod has unbound immediate PersistentVolumeClaims" (the volume
    controller binds it first);
  - a bound claim: its PersistentVolume's nodeAffinity must match the node ("node(s) had volume node affinity
    conflict"), which is what brings a StatefulSet pod back to the node holding its local volume;
  - an unbound WaitForFirstConsumer claim: fine where its class provisions dynamically (kubelite's volume
    controller provisions on the consumer's node once it is scheduled); with `kubernetes.io/no-provisioner` an
    Available volume of the class, big enough and allowed on the node, must exist ("node(s) didn't find
    available persistent volumes to bind").
"""

from __future__ import annotations

from typing import Any, ClassVar

from kube import quantity
from scheduler.framework import SKIP, CycleState, Event, Handle, NodeInfo, NodeSelectorMatcher, PodInfo, Status
from scheduler.plugins import names

Obj = dict[str, Any]

UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
NODE_CONFLICT = "node(s) had volume node affinity conflict"
BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
NO_PROVISIONER = "kubernetes.io/no-provisioner"


def _pv_allows(pv: Obj, node: NodeInfo) -> bool:
    terms = ((((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms"))
    return terms is None or NodeSelectorMatcher(terms).matches(node.labels, node.name)


def _fits(pv: Obj, claim: Obj) -> bool:
    spec, cspec = pv.get("spec") or {}, claim.get("spec") or {}
    if (pv.get("status") or {}).get("phase", "Available") != "Available" or spec.get("claimRef"):
        return False
    if (spec.get("storageClassName") or "") != (cspec.get("storageClassName") or ""):
        return False
    if not set(cspec.get("accessModes") or ()) <= set(spec.get("accessModes") or ()):
        return False
    wanted = ((cspec.get("resources") or {}).get("requests") or {}).get("storage")
    have = (spec.get("capacity") or {}).get("storage")
    try:
        return wanted is None or (have is not None and quantity.memory_bytes(have) >= quantity.memory_bytes(wanted))
    except ValueError:
        return False


class VolumeBinding:
    name: ClassVar[str] = names.VOLUME_BINDING
    events: ClassVar[frozenset[Event]] = frozenset({
        Event.NODE_ADD, Event.NODE_LABEL, Event.PVC_CHANGE, Event.PV_CHANGE, Event.STORAGE_CLASS_CHANGE})

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        if handle is None:
            raise ValueError("VolumeBinding needs a handle")
        self.handle = handle

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        claims = pod.claims
        if not claims:
            return SKIP
        lookup = self.handle.lookup
        bound: list[Obj] = []
        waiting: list[tuple[Obj, Obj | None]] = []
        for claim_name in claims:
            claim = lookup("persistentvolumeclaims", f"{pod.namespace}/{claim_name}")
            if claim is None:
                return Status.unresolvable(f'persistentvolumeclaim "{claim_name}" not found')
            if (claim.get("metadata") or {}).get("deletionTimestamp"):
                return Status.unresolvable(f'persistentvolumeclaim "{claim_name}" is being deleted')
            volume = (claim.get("spec") or {}).get("volumeName")
            if volume:
                pv = lookup("persistentvolumes", volume)
                if pv is not None:
                    bound.append(pv)
                continue
            class_name = (claim.get("spec") or {}).get("storageClassName")
            sc = lookup("storageclasses", class_name) if class_name else None
            if sc is None or sc.get("volumeBindingMode") != "WaitForFirstConsumer":
                return Status.unresolvable(UNBOUND_IMMEDIATE)
            waiting.append((claim, sc))
        state[self.name] = (bound, [(c, sc) for c, sc in waiting if (sc or {}).get("provisioner") == NO_PROVISIONER])
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        bound, static = state[self.name]
        if any(not _pv_allows(pv, node) for pv in bound):
            return Status.unresolvable(NODE_CONFLICT)
        if static:
            volumes = self.handle.list("persistentvolumes")
            taken: set[str] = set()
            for claim, _ in static:
                pv = next((v for v in volumes if v["metadata"]["name"] not in taken and _fits(v, claim)
                           and _pv_allows(v, node)), None)
                if pv is None:
                    return Status.unschedulable(BIND_CONFLICT)
                taken.add(pv["metadata"]["name"])
        return None
