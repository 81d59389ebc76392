"""apps/v1 workloads: Deployment, ReplicaSet, DaemonSet, StatefulSet (and the PodTemplateSpec they share)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kube.models.base import Int32, Int64, IntOrString, KubeModel, Time
from kube.models.core import PodSpec
from kube.models.meta import LabelSelector, ObjectMeta, TypedObject
from kube.models.storage import PersistentVolumeClaim


class PodTemplateSpec(KubeModel):
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PodSpec | None = None


class WorkloadCondition(KubeModel):
    type: str
    status: str
    last_update_time: Time | None = None
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class RollingUpdateDeployment(KubeModel):
    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None


class DeploymentStrategy(KubeModel):
    type: str | None = None
    rolling_update: RollingUpdateDeployment | None = None


class DeploymentSpec(KubeModel):
    selector: LabelSelector | None = None
    template: PodTemplateSpec
    replicas: Int32 | None = None
    min_ready_seconds: Int32 | None = None
    strategy: DeploymentStrategy | None = None
    revision_history_limit: Int32 | None = None
    paused: bool | None = None
    progress_deadline_seconds: Int32 | None = None


class DeploymentStatus(KubeModel):
    observed_generation: Int64 | None = None
    replicas: Int32 | None = None
    updated_replicas: Int32 | None = None
    ready_replicas: Int32 | None = None
    available_replicas: Int32 | None = None
    unavailable_replicas: Int32 | None = None
    terminating_replicas: Int32 | None = None
    conditions: list[WorkloadCondition] = Field(default_factory=list)
    collision_count: Int32 | None = None


class Deployment(TypedObject):
    spec: DeploymentSpec
    status: DeploymentStatus | None = None


class ReplicaSetSpec(KubeModel):
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    replicas: Int32 | None = None
    min_ready_seconds: Int32 | None = None


class ReplicaSetStatus(KubeModel):
    replicas: Int32 = 0
    fully_labeled_replicas: Int32 | None = None
    ready_replicas: Int32 | None = None
    available_replicas: Int32 | None = None
    terminating_replicas: Int32 | None = None
    observed_generation: Int64 | None = None
    conditions: list[WorkloadCondition] = Field(default_factory=list)


class ReplicaSet(TypedObject):
    spec: ReplicaSetSpec = Field(default_factory=ReplicaSetSpec)
    status: ReplicaSetStatus | None = None


class RollingUpdateDaemonSet(KubeModel):
    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None


class DaemonSetUpdateStrategy(KubeModel):
    type: str | None = None
    rolling_update: RollingUpdateDaemonSet | None = None


class DaemonSetSpec(KubeModel):
    selector: LabelSelector | None = None
    template: PodTemplateSpec
    update_strategy: DaemonSetUpdateStrategy | None = None
    min_ready_seconds: Int32 | None = None
    revision_history_limit: Int32 | None = None


class DaemonSetStatus(KubeModel):
    current_number_scheduled: Int32 = 0
    number_misscheduled: Int32 = 0
    desired_number_scheduled: Int32 = 0
    number_ready: Int32 = 0
    observed_generation: Int64 | None = None
    updated_number_scheduled: Int32 | None = None
    number_available: Int32 | None = None
    number_unavailable: Int32 | None = None
    collision_count: Int32 | None = None
    conditions: list[WorkloadCondition] = Field(default_factory=list)


class DaemonSet(TypedObject):
    spec: DaemonSetSpec
    status: DaemonSetStatus | None = None


class RollingUpdateStatefulSetStrategy(KubeModel):
    partition: Int32 | None = None
    max_unavailable: IntOrString | None = None


class StatefulSetUpdateStrategy(KubeModel):
    type: str | None = None
    rolling_update: RollingUpdateStatefulSetStrategy | None = None


class StatefulSetSpec(KubeModel):
    selector: LabelSelector | None = None
    template: PodTemplateSpec
    service_name: str | None = None
    replicas: Int32 | None = None
    volume_claim_templates: list[PersistentVolumeClaim] = Field(default_factory=list)
    pod_management_policy: str | None = None
    update_strategy: StatefulSetUpdateStrategy | None = None
    revision_history_limit: Int32 | None = None
    min_ready_seconds: Int32 | None = None
    persistent_volume_claim_retention_policy: dict[str, str] | None = None
    ordinals: dict[str, Any] | None = None


class StatefulSetStatus(KubeModel):
    replicas: Int32 = 0
    observed_generation: Int64 | None = None
    ready_replicas: Int32 | None = None
    current_replicas: Int32 | None = None
    updated_replicas: Int32 | None = None
    available_replicas: Int32 | None = None
    current_revision: str | None = None
    update_revision: str | None = None
    collision_count: Int32 | None = None
    conditions: list[WorkloadCondition] = Field(default_factory=list)


class StatefulSet(TypedObject):
    spec: StatefulSetSpec
    status: StatefulSetStatus | None = None


class ControllerRevision(TypedObject):
    data: dict[str, Any] | None = None
    revision: Int64
