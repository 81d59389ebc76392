from __future__ import annotations

import asyncio
from typing import Any

import pytest

from apiserver.admission.chain import Attributes
from apiserver.admission.rbacescalation import RBACEscalation
from apiserver.authn.user import UserInfo
from apiserver.authz.setup import Authorization
from kube import errors
from kube.resources import by_kind

RBAC = "rbac.authorization.k8s.io/v1"
ROLES, BINDINGS, CLUSTER_ROLES = by_kind(RBAC, "Role"), by_kind(RBAC, "RoleBinding"), by_kind(RBAC, "ClusterRole")
ALICE = UserInfo("alice", groups=("system:authenticated",))


def _role(name: str, ns: str, rules: list[dict[str, Any]], kind: str = "Role") -> dict[str, Any]:
    meta = {"name": name, **({"namespace": ns} if kind == "Role" else {})}
    return {"kind": kind, "metadata": meta, "rules": rules}


PODS_READ = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}
SECRETS_READ = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}


@pytest.fixture
def authorization() -> Authorization:
    auth = Authorization(("RBAC",))
    assert auth.rbac_store is not None
    auth.rbac_store.apply("ADDED", _role("reader", "a", [PODS_READ]), "Role")
    auth.rbac_store.apply("ADDED", _role("secret-reader", "a", [SECRETS_READ]), "Role")
    auth.rbac_store.apply("ADDED", {"kind": "RoleBinding", "metadata": {"name": "alice", "namespace": "a"},
                                    "subjects": [{"kind": "User", "name": "alice",
                                                  "apiGroup": "rbac.authorization.k8s.io"}],
                                    "roleRef": {"kind": "Role", "name": "reader",
                                                "apiGroup": "rbac.authorization.k8s.io"}}, "RoleBinding")
    return auth


def _check(authorization: Authorization, attrs: Attributes) -> None:
    asyncio.run(RBACEscalation(authorization).validate(attrs))


def test_a_role_with_only_held_rules_is_fine_and_more_is_refused(authorization: Authorization) -> None:
    assert ROLES is not None
    _check(authorization, Attributes("CREATE", ROLES, "a", "mine", _role("mine", "a", [PODS_READ]), user=ALICE))
    with pytest.raises(errors.Forbidden, match="attempting to grant RBAC permissions not currently held") as caught:
        _check(authorization, Attributes("CREATE", ROLES, "a", "more", _role("more", "a", [SECRETS_READ]),
                                         user=ALICE))
    assert caught.value.message.startswith('roles.rbac.authorization.k8s.io "more" is forbidden: user "alice"')
    with pytest.raises(errors.Forbidden):  # held in a, not in b
        _check(authorization, Attributes("CREATE", ROLES, "b", "mine", _role("mine", "b", [PODS_READ]), user=ALICE))


def test_binding_a_role_needs_its_rules_or_the_bind_verb(authorization: Authorization) -> None:
    assert BINDINGS is not None

    def binding(role: str) -> dict[str, Any]:
        return {"metadata": {"name": "x", "namespace": "a"}, "subjects": [{"kind": "User", "name": "bob"}],
                "roleRef": {"kind": "Role", "name": role, "apiGroup": "rbac.authorization.k8s.io"}}

    _check(authorization, Attributes("CREATE", BINDINGS, "a", "x", binding("reader"), user=ALICE))
    with pytest.raises(errors.Forbidden, match="not currently held"):
        _check(authorization, Attributes("CREATE", BINDINGS, "a", "x", binding("secret-reader"), user=ALICE))
    assert authorization.rbac_store is not None
    authorization.rbac_store.apply("ADDED", _role("binder", "a", [
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["bind"],
         "resourceNames": ["secret-reader"]}]), "Role")
    authorization.rbac_store.apply("ADDED", {"kind": "RoleBinding", "metadata": {"name": "alice-binds",
                                                                                   "namespace": "a"},
                                             "subjects": [{"kind": "User", "name": "alice",
                                                           "apiGroup": "rbac.authorization.k8s.io"}],
                                             "roleRef": {"kind": "Role", "name": "binder",
                                                         "apiGroup": "rbac.authorization.k8s.io"}}, "RoleBinding")
    _check(authorization, Attributes("CREATE", BINDINGS, "a", "x", binding("secret-reader"), user=ALICE))


def test_unchanged_rules_masters_and_the_apiserver_itself_are_not_checked(authorization: Authorization) -> None:
    assert ROLES is not None and CLUSTER_ROLES is not None
    big = _role("big", "a", [SECRETS_READ])
    relabelled = {**big, "metadata": {**big["metadata"], "labels": {"x": "y"}}}
    _check(authorization, Attributes("UPDATE", ROLES, "a", "big", relabelled, big, user=ALICE))
    _check(authorization, Attributes("CREATE", ROLES, "a", "big", big, user=UserInfo("root",
                                                                                      groups=("system:masters",))))
    _check(authorization, Attributes("CREATE", ROLES, "a", "big", big))
    aggregated = {**_role("agg", "", [], "ClusterRole"), "aggregationRule": {"clusterRoleSelectors": []}}
    with pytest.raises(errors.Forbidden, match="aggregationRule"):
        _check(authorization, Attributes("CREATE", CLUSTER_ROLES, None, "agg", aggregated, user=ALICE))
