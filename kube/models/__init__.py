"""Typed API objects (pydantic v2). `MODELS` maps (apiVersion, kind) to the model that validates it."""

from kube.models.base import KubeModel, Quantity, camel, prune_unknown_fields, unknown_fields
from kube.models.binding import Binding
from kube.models.coordination import Lease, LeaseSpec
from kube.models.core import (
    Container,
    ContainerState,
    ContainerStatus,
    Event,
    Namespace,
    Node,
    NodeCondition,
    NodeStatus,
    Pod,
    PodCondition,
    PodSpec,
    PodStatus,
    Probe,
    Taint,
    Toleration,
    Volume,
)
from kube.models.meta import LabelSelector, ObjectMeta, ObjectReference, OwnerReference

MODELS: dict[tuple[str, str], type[KubeModel]] = {
    ("v1", "Pod"): Pod,
    ("v1", "Node"): Node,
    ("v1", "Namespace"): Namespace,
    ("v1", "Event"): Event,
    ("v1", "Binding"): Binding,
    ("coordination.k8s.io/v1", "Lease"): Lease,
}

__all__ = [
    "MODELS",
    "Binding",
    "Container",
    "ContainerState",
    "ContainerStatus",
    "Event",
    "KubeModel",
    "LabelSelector",
    "Lease",
    "LeaseSpec",
    "Namespace",
    "Node",
    "NodeCondition",
    "NodeStatus",
    "ObjectMeta",
    "ObjectReference",
    "OwnerReference",
    "Pod",
    "PodCondition",
    "PodSpec",
    "PodStatus",
    "Probe",
    "Quantity",
    "Taint",
    "Toleration",
    "Volume",
    "camel",
    "prune_unknown_fields",
    "unknown_fields",
]
