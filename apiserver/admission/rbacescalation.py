"""No escalation through RBAC: a user may write a Role or ClusterRole only with rules they already hold, and
bind only a role whose rules they hold — unless granted the `escalate` (roles) or `bind` (bindings) verb, as
Kubernetes' RBAC storage checks (ConfirmNoEscalation, BindingAuthorized, EscalationAllowed).

Writes that leave the rules (or roleRef) as they were — owner references, labels — are not checked, as in
Kubernetes; the apiserver's own writes (the default policy) have no user and are not checked either. Only in
force when RBAC authorizes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from apiserver.admission.chain import Attributes, Plugin
from apiserver.authn.user import UserInfo
from apiserver.authz.attributes import Attributes as AuthzAttributes
from kube import errors

if TYPE_CHECKING:
    from apiserver.authz.setup import Authorization

__all__ = ["RBACEscalation"]

Obj = dict[str, Any]
RBAC_GROUP = "rbac.authorization.k8s.io"
_ROLES = {"roles": "Role", "clusterroles": "ClusterRole"}
_BINDINGS = {"rolebindings", "clusterrolebindings"}


class RBACEscalation(Plugin):
    name = "RBACEscalation"

    def __init__(self, authorization: Authorization | None) -> None:
        self.authorization = authorization

    async def validate(self, attrs: Attributes) -> None:
        if self.authorization is None or self.authorization.rbac is None or attrs.user is None:
            return
        if attrs.resource.group != RBAC_GROUP or attrs.operation == "DELETE" or attrs.obj is None:
            return
        plural = attrs.resource.plural
        if plural in _ROLES:
            self._role(attrs, attrs.user, plural)
        elif plural in _BINDINGS:
            self._binding(attrs, attrs.user)

    def _allowed(self, user: UserInfo, verb: str, resource: str, namespace: str, name: str) -> bool:
        assert self.authorization is not None
        return self.authorization.authorizer.authorize(AuthzAttributes(
            user=user, verb=verb, resource_request=True, namespace=namespace, api_group=RBAC_GROUP,
            resource=resource, name=name)).allowed

    def _role(self, attrs: Attributes, user: UserInfo, plural: str) -> None:
        assert attrs.obj is not None and self.authorization is not None and self.authorization.rbac is not None
        namespace = attrs.namespace or "" if plural == "roles" else ""
        if self._allowed(user, "escalate", plural, namespace, attrs.name):
            return
        if plural == "clusterroles" and attrs.obj.get("aggregationRule") is not None and (
                attrs.old is None or attrs.old.get("aggregationRule") != attrs.obj.get("aggregationRule")):
            self._refuse(attrs, "must have cluster-admin privileges to use the aggregationRule")
        rules = attrs.obj.get("rules") or []
        if attrs.old is not None and (attrs.old.get("rules") or []) == rules:
            return
        problem = self.authorization.rbac.confirm_no_escalation(user, namespace, rules)
        if problem is not None:
            self._refuse(attrs, problem)

    def _binding(self, attrs: Attributes, user: UserInfo) -> None:
        assert attrs.obj is not None and self.authorization is not None and self.authorization.rbac is not None
        ref = attrs.obj.get("roleRef") or {}
        if attrs.old is not None and attrs.old.get("roleRef") == ref and \
                attrs.old.get("subjects") == attrs.obj.get("subjects"):
            return
        namespace = attrs.namespace or ""
        kind, role_name = ref.get("kind"), ref.get("name", "")
        resource = "clusterroles" if kind == "ClusterRole" else "roles"
        if self._allowed(user, "bind", resource, namespace if resource == "roles" else "", role_name):
            return
        role = (self.authorization.rbac_store.get_cluster_role(role_name) if kind == "ClusterRole"
                else self.authorization.rbac_store.get_role(namespace, role_name)) \
            if self.authorization.rbac_store is not None else None
        rules = (role or {}).get("rules") or []
        problem = self.authorization.rbac.confirm_no_escalation(user, namespace, rules)
        if problem is not None:
            self._refuse(attrs, problem)

    @staticmethod
    def _refuse(attrs: Attributes, why: str) -> None:
        raise errors.Forbidden.for_resource(attrs.resource.plural, attrs.name, attrs.resource.group, why)
