"""coordination.k8s.io/v1 Lease: node heartbeats and leader election."""

from __future__ import annotations

from pydantic import Field

from kube.models.base import Int32, KubeModel, MicroTime
from kube.models.meta import ObjectMeta


class LeaseSpec(KubeModel):
    holder_identity: str | None = None
    lease_duration_seconds: Int32 | None = None
    acquire_time: MicroTime | None = None
    renew_time: MicroTime | None = None
    lease_transitions: Int32 | None = None


class Lease(KubeModel):
    api_version: str | None = None
    kind: str | None = None
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: LeaseSpec = Field(default_factory=LeaseSpec)
