"""coordination.k8s.io/v1 Lease: node heartbeats and leader election."""

from __future__ import annotations

from pydantic import Field

from kube.models.base import KubeModel
from kube.models.meta import ObjectMeta


class LeaseSpec(KubeModel):
    holder_identity: str | None = None
    lease_duration_seconds: int | None = None
    acquire_time: str | None = None
    renew_time: str | None = None
    lease_transitions: int | None = None


class Lease(KubeModel):
    api_version: str | None = None
    kind: str | None = None
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: LeaseSpec = Field(default_factory=LeaseSpec)
