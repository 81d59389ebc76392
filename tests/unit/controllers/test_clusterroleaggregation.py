"""The clusterrole-aggregation controller: which rules an aggregated ClusterRole gathers (selector by selector, roles
by name, each rule once, never its own), the server-side apply it writes (field manager, force), that a role
already right is not written, that any ClusterRole change wakes every aggregated role, and that nested aggregates
(view -> edit -> admin) converge."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from controllers.clusterroleaggregation import (
    CLUSTERROLES,
    FIELD_MANAGER,
    ClusterRoleAggregationController,
    aggregated_rules,
)
from controllers.context import ControllerContext, InformerFactory
from controllers.registry import available
from kube.informer import object_key
from kube.resources import ResourceType

Obj = dict[str, Any]

PODS_GET = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
PODS_LIST = {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}
SECRETS = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}
HEALTH = {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}


def cr(name: str, rules: list[Obj] | None = None, labels: dict[str, str] | None = None,
       selectors: list[Obj] | None = None) -> Obj:
    role: Obj = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                 "metadata": {"name": name, "labels": labels or {}, "resourceVersion": "1"}}
    if rules is not None:
        role["rules"] = rules
    if selectors is not None:
        role["aggregationRule"] = {"clusterRoleSelectors": selectors}
    return role


def by(label: str) -> Obj:
    return {"matchLabels": {label: "true"}}


@pytest.mark.parametrize(("role", "others", "expected"), [
    (cr("agg", selectors=[by("a")]), [cr("x", [PODS_GET], {"a": "true"}), cr("y", [SECRETS])], [PODS_GET]),
    # roles by name within a selector; selectors in order; a rule seen before is not repeated
    (cr("agg", selectors=[by("a"), by("b")]),
     [cr("z", [PODS_LIST, PODS_GET], {"a": "true"}), cr("m", [SECRETS, PODS_GET], {"a": "true"}),
      cr("b1", [HEALTH, SECRETS], {"b": "true"})],
     [SECRETS, PODS_GET, PODS_LIST, HEALTH]),
    # never its own rules, even when it matches itself
    (cr("agg", [SECRETS], {"a": "true"}, selectors=[by("a")]), [cr("x", [PODS_GET], {"a": "true"})], [PODS_GET]),
    # an empty selector selects every ClusterRole; no selector selects none
    (cr("agg", selectors=[{}]), [cr("x", [PODS_GET]), cr("y", [SECRETS])], [PODS_GET, SECRETS]),
    (cr("agg", selectors=[]), [cr("x", [PODS_GET])], []),
    # matchExpressions; a rule with empty lists equals the same rule without them
    (cr("agg", selectors=[{"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold"]}]}]),
     [cr("x", [{**PODS_GET, "resourceNames": [], "nonResourceURLs": None}], {"tier": "gold"}),
      cr("y", [PODS_GET, SECRETS], {"tier": "gold"}), cr("z", [HEALTH], {"tier": "silver"})],
     [PODS_GET, SECRETS]),
], ids=["one-selector", "order-and-dedup", "not-itself", "empty-selector", "no-selector", "expressions"])
def test_aggregated_rules(role: Obj, others: list[Obj], expected: list[Obj]) -> None:
    assert aggregated_rules(role, [role, *others]) == expected


class FakeClient:
    """Applies the rules of a server-side apply patch to its ClusterRoles and logs the calls."""

    server = "fake"

    def __init__(self, roles: list[Obj]) -> None:
        self.roles = {r["metadata"]["name"]: copy.deepcopy(r) for r in roles}
        self.patches: list[tuple[str, Obj, str, Obj]] = []

    async def patch(self, rt: ResourceType, name: str, patch: Obj, namespace: str | None = None, *,
                    patch_type: str = "merge", subresource: str | None = None,
                    params: Obj | None = None) -> Obj:
        assert rt == CLUSTERROLES and namespace is None and subresource is None
        self.patches.append((name, copy.deepcopy(patch), patch_type, dict(params or {})))
        role = self.roles[name]
        role["rules"] = copy.deepcopy(patch["rules"])
        role["metadata"]["resourceVersion"] = str(int(role["metadata"]["resourceVersion"]) + 1)
        return copy.deepcopy(role)


class FakeRecorder:
    async def record(self, *args: Any, **kwargs: Any) -> None:
        return None


def controller(roles: list[Obj]) -> tuple[ClusterRoleAggregationController, FakeClient]:
    client = FakeClient(roles)
    ctx = ControllerContext(client, InformerFactory(client), FakeRecorder())  # type: ignore[arg-type]
    c = ClusterRoleAggregationController(ctx)
    for role in roles:
        c.informer._put(object_key(role), copy.deepcopy(role))
    return c, client


def refresh(c: ClusterRoleAggregationController, client: FakeClient) -> None:
    """The informer sees what the server now holds (its handlers run)."""
    for name, role in client.roles.items():
        c.informer._put(name, copy.deepcopy(role))


async def drain(c: ClusterRoleAggregationController) -> list[str]:
    keys = []
    while len(c.queue):
        key = await c.queue.get()
        c.queue.done(key)
        keys.append(key)
    return keys


async def test_sync_applies_the_aggregated_rules_with_its_field_manager() -> None:
    c, client = controller([cr("agg", selectors=[by("a")]), cr("x", [PODS_GET, HEALTH], {"a": "true"})])
    await c.sync("agg")
    assert client.patches == [("agg", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                       "metadata": {"name": "agg"}, "rules": [PODS_GET, HEALTH]},
                               "apply", {"fieldManager": FIELD_MANAGER, "force": "true"})]
    refresh(c, client)
    await c.sync("agg")  # already right: not written again
    assert len(client.patches) == 1


async def test_roles_without_aggregation_or_gone_are_left_alone() -> None:
    c, client = controller([cr("plain", [SECRETS]), cr("x", [PODS_GET], {"a": "true"})])
    await c.sync("plain")
    await c.sync("missing")
    assert client.patches == []


async def test_losing_every_source_empties_the_rules() -> None:
    c, client = controller([cr("agg", [PODS_GET], selectors=[by("a")])])
    await c.sync("agg")
    assert client.patches[0][1]["rules"] == []


async def test_any_cluster_role_event_wakes_every_aggregated_role() -> None:
    c, _ = controller([cr("agg1", selectors=[by("a")]), cr("agg2", selectors=[by("b")]), cr("x", [PODS_GET])])
    assert sorted(c.initial_keys()) == ["agg1", "agg2"]
    await drain(c)
    c.informer._put("y", cr("y", [SECRETS], {"b": "true"}))  # a new role: its on_add handler
    assert sorted(await drain(c)) == ["agg1", "agg2"]
    c.informer._remove("x")
    assert sorted(await drain(c)) == ["agg1", "agg2"]


async def test_nested_aggregates_converge() -> None:
    roles = [
        cr("admin", selectors=[by("to-admin")]),
        cr("edit", labels={"to-admin": "true"}, selectors=[by("to-edit")]),
        cr("view", labels={"to-edit": "true"}, selectors=[by("to-view")]),
        cr("agg-to-admin", [SECRETS], {"to-admin": "true"}),
        cr("agg-to-edit", [PODS_LIST], {"to-edit": "true"}),
        cr("agg-to-view", [PODS_GET], {"to-view": "true"}),
    ]
    c, client = controller(roles)
    for _ in range(5):  # level-triggered: sync every key until nothing is written
        before = len(client.patches)
        for key in sorted(c.initial_keys()):
            await c.sync(key)
            refresh(c, client)
        if len(client.patches) == before:
            break
    assert client.roles["view"]["rules"] == [PODS_GET]
    assert client.roles["edit"]["rules"] == [PODS_LIST, PODS_GET]
    assert client.roles["admin"]["rules"] == [SECRETS, PODS_LIST, PODS_GET]


def test_it_is_registered() -> None:
    assert available()["clusterrole-aggregation"] is ClusterRoleAggregationController
