"""Policy kinds: LimitRange, ResourceQuota (core/v1), PriorityClass (scheduling.k8s.io/v1), Eviction
(policy/v1) and Scale (autoscaling/v1, the scale subresource's body)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kube.models.base import Int32, KubeModel, Quantity
from kube.models.meta import TypedObject


class LimitRangeItem(KubeModel):
    type: str
    max: dict[str, Quantity] = Field(default_factory=dict)
    min: dict[str, Quantity] = Field(default_factory=dict)
    default: dict[str, Quantity] = Field(default_factory=dict)
    default_request: dict[str, Quantity] = Field(default_factory=dict)
    max_limit_request_ratio: dict[str, Quantity] = Field(default_factory=dict)


class LimitRangeSpec(KubeModel):
    limits: list[LimitRangeItem] = Field(default_factory=list)


class LimitRange(TypedObject):
    spec: LimitRangeSpec = Field(default_factory=LimitRangeSpec)


class ResourceQuotaSpec(KubeModel):
    hard: dict[str, Quantity] = Field(default_factory=dict)
    scopes: list[str] = Field(default_factory=list)
    scope_selector: dict[str, Any] | None = None


class ResourceQuotaStatus(KubeModel):
    hard: dict[str, Quantity] = Field(default_factory=dict)
    used: dict[str, Quantity] = Field(default_factory=dict)


class ResourceQuota(TypedObject):
    spec: ResourceQuotaSpec = Field(default_factory=ResourceQuotaSpec)
    status: ResourceQuotaStatus | None = None


class PriorityClass(TypedObject):
    value: Int32
    global_default: bool | None = None
    description: str | None = None
    preemption_policy: str | None = None


class Eviction(TypedObject):
    delete_options: dict[str, Any] | None = None


class ScaleSpec(KubeModel):
    replicas: Int32 | None = None


class ScaleStatus(KubeModel):
    replicas: Int32 = 0
    selector: str | None = None


class Scale(TypedObject):
    spec: ScaleSpec = Field(default_factory=ScaleSpec)
    status: ScaleStatus | None = None
