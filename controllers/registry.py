"""Which controllers the controller-manager runs, listed as kube-controller-manager lists its own: one line each,
so what runs is read here, not found by scanning modules (a stray class cannot start by accident)."""

from __future__ import annotations

from controllers.base import Controller
from controllers.clusterroleaggregation import ClusterRoleAggregationController
from controllers.cronjob import CronJobController
from controllers.csrapproving import CSRApprovingController
from controllers.csrcleaner import CSRCleanerController
from controllers.csrsigning import CSRSigningController
from controllers.daemonset import DaemonSetController
from controllers.deployment import DeploymentController
from controllers.endpoints import EndpointsController
from controllers.garbagecollector import GarbageCollector
from controllers.job import JobController
from controllers.namespace import NamespaceController
from controllers.nodelifecycle import NodeLifecycleController
from controllers.replicaset import ReplicaSetController
from controllers.resourcequota import ResourceQuotaController
from controllers.rootcacertpublisher import RootCACertPublisher
from controllers.serviceaccount import ServiceAccountController
from controllers.statefulset import StatefulSetController
from controllers.volumebinding import VolumeBindingController

__all__ = ["CONTROLLERS", "available"]

CONTROLLERS: tuple[type[Controller], ...] = (
    ClusterRoleAggregationController,
    CronJobController,
    CSRApprovingController,
    CSRCleanerController,
    CSRSigningController,
    DaemonSetController,
    DeploymentController,
    EndpointsController,
    GarbageCollector,
    JobController,
    NamespaceController,
    NodeLifecycleController,
    ReplicaSetController,
    ResourceQuotaController,
    RootCACertPublisher,
    ServiceAccountController,
    StatefulSetController,
    VolumeBindingController,
)


def available() -> dict[str, type[Controller]]:
    """Every controller by its name (what --controllers takes), sorted."""
    return dict(sorted((c.name, c) for c in CONTROLLERS))
