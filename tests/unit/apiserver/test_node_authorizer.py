from __future__ import annotations

from typing import Any

import pytest

from apiserver.authn.user import UserInfo
from apiserver.authz.attributes import Attributes, Decision
from apiserver.authz.node import NodeAuthorizer, NodeGraph
from apiserver.authz.setup import _node_rules
from kube.resources import PERSISTENTVOLUMECLAIMS, PODS

N1 = UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated"))


def _pod(name: str, node: str, ns: str = "a", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"nodeName": node, **spec}}


@pytest.fixture
def graph() -> NodeGraph:
    g = NodeGraph()
    g.replace(PODS, [
        _pod("web", "n1", volumes=[{"name": "s", "secret": {"secretName": "tls"}},
                                    {"name": "d", "persistentVolumeClaim": {"claimName": "data"}}],
             containers=[{"name": "c", "envFrom": [{"configMapRef": {"name": "conf"}}]}]),
        _pod("db", "n2", volumes=[{"name": "s", "secret": {"secretName": "db-pass"}}]),
    ])
    g.replace(PERSISTENTVOLUMECLAIMS, [{"metadata": {"name": "data", "namespace": "a"},
                                        "spec": {"volumeName": "pv-1"}}])
    return g


def _ask(graph: NodeGraph, user: UserInfo = N1, **kw: Any) -> Decision:
    attrs = Attributes(**{"user": user, "verb": "get", "resource_request": True, **kw})
    return NodeAuthorizer(graph, _node_rules()).authorize(attrs).decision


def test_a_node_reads_what_its_own_pods_use_and_nothing_else(graph: NodeGraph) -> None:
    assert _ask(graph, resource="secrets", namespace="a", name="tls") is Decision.ALLOW
    assert _ask(graph, resource="configmaps", namespace="a", name="conf") is Decision.ALLOW
    assert _ask(graph, resource="persistentvolumeclaims", namespace="a", name="data") is Decision.ALLOW
    assert _ask(graph, resource="persistentvolumes", name="pv-1") is Decision.ALLOW
    assert _ask(graph, resource="secrets", namespace="a", name="db-pass") is Decision.NO_OPINION  # n2's pod
    assert _ask(graph, resource="secrets", namespace="a", verb="list") is Decision.NO_OPINION  # no name
    assert _ask(graph, resource="secrets", namespace="a", name="tls", verb="update") is Decision.NO_OPINION


def test_the_graph_follows_pods_moving_and_going(graph: NodeGraph) -> None:
    graph.apply(PODS, "DELETED", _pod("web", "n1"))
    assert _ask(graph, resource="secrets", namespace="a", name="tls") is Decision.NO_OPINION
    graph.apply(PODS, "ADDED", _pod("db2", "n1", volumes=[{"name": "s", "secret": {"secretName": "db-pass"}}]))
    assert _ask(graph, resource="secrets", namespace="a", name="db-pass") is Decision.ALLOW


def test_only_its_own_lease_and_the_node_rules(graph: NodeGraph) -> None:
    lease = {"resource": "leases", "api_group": "coordination.k8s.io", "namespace": "kube-node-lease"}
    assert _ask(graph, **lease, name="n1", verb="update") is Decision.ALLOW
    assert _ask(graph, **lease, name="n2", verb="update") is Decision.NO_OPINION
    assert _ask(graph, resource="nodes", name="n2", verb="get") is Decision.ALLOW  # nodes are readable
    assert _ask(graph, resource="pods", subresource="status", verb="patch", namespace="a",
                name="web") is Decision.ALLOW  # NodeRestriction decides which pods
    assert _ask(graph, resource="deployments", api_group="apps", verb="list") is Decision.NO_OPINION


def test_other_users_are_not_its_business(graph: NodeGraph) -> None:
    bob = UserInfo("bob", groups=("system:authenticated",))
    assert _ask(graph, bob, resource="secrets", namespace="a", name="tls") is Decision.NO_OPINION
    nameless = UserInfo("system:node:", groups=("system:nodes",))
    attrs = Attributes(user=nameless, verb="get", resource_request=True, resource="nodes", name="n1")
    assert NodeAuthorizer(graph, _node_rules()).authorize(attrs).reason == "unknown node"
