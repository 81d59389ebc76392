"""RBAC objects (stored and served; enforcement is the authorizer's job): rules and role references."""

from __future__ import annotations

from typing import Any, ClassVar

from apiserver import validation as v
from apiserver.registry.base import Strategy
from kube import errors
from kube.models import KubeModel
from kube.models import rbac as models

__all__ = ["ClusterRoleBindingStrategy", "ClusterRoleStrategy", "RoleBindingStrategy", "RoleStrategy"]

Obj = dict[str, Any]
Causes = list[errors.Cause]

RBAC_GROUP = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ["Group", "ServiceAccount", "User"]


def _validate_rules(obj: Obj, cluster: bool) -> Causes:
    causes: Causes = []
    for i, rule in enumerate(obj.get("rules") or []):
        path = f"rules[{i}]"
        if not rule.get("verbs"):
            causes.append(v.required(f"{path}.verbs", "verbs must contain at least one value"))
        if rule.get("nonResourceURLs"):
            if not cluster:
                causes.append(v.invalid(f"{path}.nonResourceURLs", rule["nonResourceURLs"],
                                        "namespaced rules cannot apply to non-resource URLs"))
            if rule.get("apiGroups") or rule.get("resources"):
                causes.append(v.invalid(f"{path}.nonResourceURLs", rule["nonResourceURLs"],
                                        "rules cannot apply to both regular resources and non-resource URLs"))
        elif not rule.get("resources"):
            causes.append(v.required(f"{path}.resources", "resource rules must supply at least one resource"))
        elif not rule.get("apiGroups"):
            causes.append(v.required(f"{path}.apiGroups", "resource rules must supply at least one api group"))
    return causes


def _validate_binding(obj: Obj, allowed_role_kinds: list[str]) -> Causes:
    causes: Causes = []
    ref = obj.get("roleRef") or {}
    if ref.get("apiGroup") != RBAC_GROUP:
        causes.append(v.not_supported("roleRef.apiGroup", ref.get("apiGroup"), [RBAC_GROUP]))
    if ref.get("kind") not in allowed_role_kinds:
        causes.append(v.not_supported("roleRef.kind", ref.get("kind"), allowed_role_kinds))
    if not ref.get("name"):
        causes.append(v.required("roleRef.name"))
    for i, subject in enumerate(obj.get("subjects") or []):
        path = f"subjects[{i}]"
        if subject.get("kind") not in SUBJECT_KINDS:
            causes.append(v.not_supported(f"{path}.kind", subject.get("kind"), SUBJECT_KINDS))
        elif subject["kind"] == "ServiceAccount" and subject.get("apiGroup"):
            causes.append(v.not_supported(f"{path}.apiGroup", subject["apiGroup"], [""]))
        elif subject["kind"] in ("User", "Group") and subject.get("apiGroup") != RBAC_GROUP:
            causes.append(v.not_supported(f"{path}.apiGroup", subject.get("apiGroup"), [RBAC_GROUP]))
        if subject.get("kind") == "ServiceAccount" and not subject.get("namespace") and allowed_role_kinds == [
                "ClusterRole"]:
            causes.append(v.required(f"{path}.namespace"))
        if not subject.get("name"):
            causes.append(v.required(f"{path}.name"))
    return causes


class RoleStrategy(Strategy):
    name_is_path_segment = True
    model: ClassVar[type[KubeModel] | None] = models.Role

    def validate(self, obj: Obj) -> Causes:
        return self.validate_metadata(obj) + _validate_rules(obj, cluster=False)


class ClusterRoleStrategy(Strategy):
    name_is_path_segment = True
    model: ClassVar[type[KubeModel] | None] = models.ClusterRole

    def validate(self, obj: Obj) -> Causes:
        return self.validate_metadata(obj) + _validate_rules(obj, cluster=True)


class RoleBindingStrategy(Strategy):
    name_is_path_segment = True
    model: ClassVar[type[KubeModel] | None] = models.RoleBinding
    role_kinds: ClassVar[list[str]] = ["ClusterRole", "Role"]

    def default(self, binding: models.RoleBinding) -> None:
        """pkg/apis/rbac/v1/defaults.go: SetDefaults_RoleBinding / SetDefaults_ClusterRoleBinding (roleRef's
        group) and SetDefaults_Subject (a User's or Group's group; a ServiceAccount's stays "")."""
        binding.role_ref.api_group = binding.role_ref.api_group or RBAC_GROUP
        for subject in binding.subjects:
            if not subject.api_group and subject.kind in ("User", "Group"):
                subject.api_group = RBAC_GROUP

    def validate(self, obj: Obj) -> Causes:
        return self.validate_metadata(obj) + _validate_binding(obj, self.role_kinds)

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        causes = self.validate(new)
        if new.get("roleRef") != old.get("roleRef"):
            causes.append(v.invalid("roleRef", new.get("roleRef"), "cannot change roleRef"))
        return causes


class ClusterRoleBindingStrategy(RoleBindingStrategy):
    model: ClassVar[type[KubeModel] | None] = models.ClusterRoleBinding
    role_kinds: ClassVar[list[str]] = ["ClusterRole"]
