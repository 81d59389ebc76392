from __future__ import annotations

import asyncio
from typing import Any

import pytest

from apiserver.admission.chain import Attributes
from apiserver.admission.noderestriction import NodeRestriction, forbidden_labels
from apiserver.authn.user import UserInfo
from kube import errors
from kube.resources import LEASES, NODES, PODS

N1 = UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated"))


def _check(attrs: Attributes) -> None:
    asyncio.run(NodeRestriction().validate(attrs))


def _pod(node: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "a", "labels": labels or {}}, "spec": {"nodeName": node}}


def test_pod_status_only_for_its_own_pods_and_without_relabelling() -> None:
    _check(Attributes("UPDATE", PODS, "a", "p", _pod("n1"), _pod("n1"), "status", user=N1))
    with pytest.raises(errors.Forbidden, match=r'node "n1" can only update pod status for pods with spec\.nodeName'):
        _check(Attributes("UPDATE", PODS, "a", "p", _pod("n2"), _pod("n2"), "status", user=N1))
    with pytest.raises(errors.Forbidden, match="cannot update labels through pod status"):
        _check(Attributes("UPDATE", PODS, "a", "p", _pod("n1", {"x": "y"}), _pod("n1"), "status", user=N1))


def test_pods_are_deleted_only_when_its_own_and_never_created() -> None:
    _check(Attributes("DELETE", PODS, "a", "p", None, _pod("n1"), user=N1))
    with pytest.raises(errors.Forbidden, match=r"can only delete pods with spec\.nodeName set to itself"):
        _check(Attributes("DELETE", PODS, "a", "p", None, _pod("n2"), user=N1))
    with pytest.raises(errors.Forbidden, match="can only create mirror pods") as refused:
        _check(Attributes("CREATE", PODS, "a", "p", _pod("n1"), user=N1))
    assert refused.value.message.startswith('pods "p" is forbidden: ')


def test_its_own_node_without_new_taints_or_restricted_labels() -> None:
    node = {"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}}, "spec": {}}
    _check(Attributes("CREATE", NODES, None, "n1", node, user=N1))
    with pytest.raises(errors.Forbidden, match='node "n1" is not allowed to modify node "n2"'):
        _check(Attributes("UPDATE", NODES, None, "n2", node, node, user=N1))
    tainted = {**node, "spec": {"taints": [{"key": "x", "effect": "NoSchedule"}]}}
    with pytest.raises(errors.Forbidden, match="not allowed to modify taints"):
        _check(Attributes("UPDATE", NODES, None, "n1", node, tainted, user=N1))
    steer = {**node, "metadata": {"name": "n1", "labels": {"node-restriction.kubernetes.io/pool": "gpu"}}}
    with pytest.raises(errors.Forbidden, match=r"node-restriction\.kubernetes\.io/pool"):
        _check(Attributes("UPDATE", NODES, None, "n1", steer, node, user=N1))


def test_the_label_rules() -> None:
    assert forbidden_labels({"kubernetes.io/hostname": "a", "node.kubernetes.io/x": "1", "team": "t"}, {}) == []
    assert forbidden_labels({"node-role.kubernetes.io/control-plane": ""}, {}) == [
        "node-role.kubernetes.io/control-plane"]
    assert forbidden_labels({}, {"a.node-restriction.kubernetes.io/b": "1"}) == ["a.node-restriction.kubernetes.io/b"]


def test_its_own_lease_only_and_other_users_untouched() -> None:
    lease = {"metadata": {"name": "n2", "namespace": "kube-node-lease"}}
    with pytest.raises(errors.Forbidden, match="same name as the requesting node"):
        _check(Attributes("CREATE", LEASES, "kube-node-lease", "", lease, user=N1))
    bob = UserInfo("bob")
    _check(Attributes("DELETE", PODS, "a", "p", None, _pod("n2"), user=bob))
    _check(Attributes("CREATE", PODS, "a", "p", _pod("n1")))
