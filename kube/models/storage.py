"""Persistent storage: core/v1 PersistentVolume and PersistentVolumeClaim, storage.k8s.io/v1 StorageClass and
CSIStorageCapacity."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kube.models.base import KubeModel, Quantity, Time
from kube.models.core import HostPathVolumeSource, NodeSelector, ResourceRequirements
from kube.models.meta import LabelSelector, ObjectReference, TypedObject


class LocalVolumeSource(KubeModel):
    path: str
    fs_type: str | None = None


class VolumeNodeAffinity(KubeModel):
    required: NodeSelector | None = None


class PersistentVolumeSpec(KubeModel):
    capacity: dict[str, Quantity] = Field(default_factory=dict)
    access_modes: list[str] = Field(default_factory=list)
    claim_ref: ObjectReference | None = None
    persistent_volume_reclaim_policy: str | None = None
    storage_class_name: str | None = None
    mount_options: list[str] = Field(default_factory=list)
    volume_mode: str | None = None
    node_affinity: VolumeNodeAffinity | None = None
    host_path: HostPathVolumeSource | None = None
    local: LocalVolumeSource | None = None
    nfs: dict[str, Any] | None = None
    csi: dict[str, Any] | None = None


class PersistentVolumeStatus(KubeModel):
    phase: str | None = None
    message: str | None = None
    reason: str | None = None
    last_phase_transition_time: Time | None = None


class PersistentVolume(TypedObject):
    spec: PersistentVolumeSpec = Field(default_factory=PersistentVolumeSpec)
    status: PersistentVolumeStatus | None = None


class PersistentVolumeClaimSpec(KubeModel):
    access_modes: list[str] = Field(default_factory=list)
    selector: LabelSelector | None = None
    resources: ResourceRequirements | None = None
    volume_name: str | None = None
    storage_class_name: str | None = None
    volume_mode: str | None = None
    data_source: dict[str, Any] | None = None
    data_source_ref: dict[str, Any] | None = None


class PersistentVolumeClaimStatus(KubeModel):
    phase: str | None = None
    access_modes: list[str] = Field(default_factory=list)
    capacity: dict[str, Quantity] = Field(default_factory=dict)
    conditions: list[dict[str, Any]] = Field(default_factory=list)


class PersistentVolumeClaim(TypedObject):
    spec: PersistentVolumeClaimSpec = Field(default_factory=PersistentVolumeClaimSpec)
    status: PersistentVolumeClaimStatus | None = None


class StorageClass(TypedObject):
    provisioner: str
    parameters: dict[str, str] = Field(default_factory=dict)
    reclaim_policy: str | None = None
    mount_options: list[str] = Field(default_factory=list)
    allow_volume_expansion: bool | None = None
    volume_binding_mode: str | None = None
    allowed_topologies: list[dict[str, Any]] = Field(default_factory=list)


class CSIStorageCapacity(TypedObject):
    """storage.k8s.io/v1 CSIStorageCapacity: what a CSI driver reports it can provision for a StorageClass in a
    topology segment. Served and stored only: kubelite runs no CSI driver to write it and no scheduler plugin
    reads it."""

    node_topology: LabelSelector | None = None
    storage_class_name: str | None = None
    capacity: Quantity | None = None
    maximum_volume_size: Quantity | None = None
