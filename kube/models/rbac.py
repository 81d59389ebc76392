"""rbac.authorization.k8s.io/v1: Role, ClusterRole, RoleBinding, ClusterRoleBinding."""

from __future__ import annotations

from pydantic import Field

from kube.models.base import KubeModel
from kube.models.meta import LabelSelector, TypedObject


class PolicyRule(KubeModel):
    verbs: list[str]
    api_groups: list[str] = Field(default_factory=list)
    resources: list[str] = Field(default_factory=list)
    resource_names: list[str] = Field(default_factory=list)
    non_resource_urls: list[str] = Field(default_factory=list, alias="nonResourceURLs")


class AggregationRule(KubeModel):
    cluster_role_selectors: list[LabelSelector] = Field(default_factory=list)


class Role(TypedObject):
    rules: list[PolicyRule] = Field(default_factory=list)


class ClusterRole(Role):
    aggregation_rule: AggregationRule | None = None


class Subject(KubeModel):
    kind: str
    name: str
    api_group: str | None = None
    namespace: str | None = None


class RoleRef(KubeModel):
    api_group: str | None = None  # defaulted by the apiserver (SetDefaults_RoleBinding)
    kind: str
    name: str


class RoleBinding(TypedObject):
    role_ref: RoleRef
    subjects: list[Subject] = Field(default_factory=list)


class ClusterRoleBinding(RoleBinding):
    pass
