"""The registry: a Strategy for every served resource type (see `kube.resources.RESOURCES`)."""

from __future__ import annotations

from apiserver.registry import config, policy, rbac, services, storage, workloads
from apiserver.registry.base import Strategy
from apiserver.registry.generic import ControllerRevisionStrategy, EventStrategy, LeaseStrategy
from apiserver.registry.namespaces import NamespaceStrategy
from apiserver.registry.nodes import NodeStrategy
from apiserver.registry.pods import PodStrategy
from kube.resources import RESOURCES, ResourceType

__all__ = ["STRATEGIES", "Strategy", "strategy_for"]

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
}

STRATEGIES: dict[ResourceType, Strategy] = {r: _BY_KIND[r.kind](r) for r in RESOURCES}


def strategy_for(resource: ResourceType) -> Strategy:
    return STRATEGIES[resource]
