"""The registry: a Strategy for every served resource type (see `kube.resources.RESOURCES`), and the Conversion
of each type served over another one's storage (`apiserver.registry.conversion`)."""

from __future__ import annotations

from apiserver.registry import certificates, config, csi, events, networking, policy, rbac, services, storage, workloads
from apiserver.registry.base import Strategy
from apiserver.registry.conversion import Conversion
from apiserver.registry.generic import ControllerRevisionStrategy, EventStrategy, LeaseStrategy
from apiserver.registry.namespaces import NamespaceStrategy
from apiserver.registry.nodes import NodeStrategy
from apiserver.registry.pods import PodStrategy
from kube.resources import EVENTS_V1, RESOURCES, ResourceType

__all__ = ["CONVERSIONS", "STRATEGIES", "Conversion", "Strategy", "conversion_for", "storage_of", "strategy_for"]

_BY_KIND: dict[str, type[Strategy]] = {
    "Pod": PodStrategy,
    "Node": NodeStrategy,
    "Namespace": NamespaceStrategy,
    "Event": EventStrategy,
    "Lease": LeaseStrategy,
    "Service": services.ServiceStrategy,
    "Endpoints": services.EndpointsStrategy,
    "ConfigMap": config.ConfigMapStrategy,
    "Secret": config.SecretStrategy,
    "ServiceAccount": config.ServiceAccountStrategy,
    "PersistentVolume": storage.PersistentVolumeStrategy,
    "PersistentVolumeClaim": storage.PersistentVolumeClaimStrategy,
    "StorageClass": storage.StorageClassStrategy,
    "CSIStorageCapacity": csi.CSIStorageCapacityStrategy,
    "Ingress": networking.IngressStrategy,
    "IngressClass": networking.IngressClassStrategy,
    "NetworkPolicy": networking.NetworkPolicyStrategy,
    "LimitRange": policy.LimitRangeStrategy,
    "ResourceQuota": policy.ResourceQuotaStrategy,
    "PriorityClass": policy.PriorityClassStrategy,
    "Deployment": workloads.DeploymentStrategy,
    "ReplicaSet": workloads.ReplicaSetStrategy,
    "DaemonSet": workloads.DaemonSetStrategy,
    "StatefulSet": workloads.StatefulSetStrategy,
    "ControllerRevision": ControllerRevisionStrategy,
    "Job": workloads.JobStrategy,
    "CronJob": workloads.CronJobStrategy,
    "Role": rbac.RoleStrategy,
    "ClusterRole": rbac.ClusterRoleStrategy,
    "RoleBinding": rbac.RoleBindingStrategy,
    "ClusterRoleBinding": rbac.ClusterRoleBindingStrategy,
    "CertificateSigningRequest": certificates.CertificateSigningRequestStrategy,
}

#: resource types whose strategy is not the one their kind has in its storage version
_BY_RESOURCE: dict[ResourceType, type[Strategy]] = {EVENTS_V1: events.EventsV1EventStrategy}

STRATEGIES: dict[ResourceType, Strategy] = {r: _BY_RESOURCE.get(r, _BY_KIND[r.kind])(r) for r in RESOURCES}

#: resource types served over another one's storage -> how their objects convert
CONVERSIONS: dict[ResourceType, Conversion] = {EVENTS_V1: events.CONVERSION}


def strategy_for(resource: ResourceType) -> Strategy:
    return STRATEGIES[resource]


def conversion_for(resource: ResourceType) -> Conversion | None:
    """How `resource`'s objects convert to and from their storage form; None when stored as served."""
    return CONVERSIONS.get(resource)


def storage_of(resource: ResourceType) -> ResourceType:
    """The resource type whose etcd keys and watch cache hold `resource`'s objects."""
    conversion = CONVERSIONS.get(resource)
    return conversion.storage if conversion is not None else resource
