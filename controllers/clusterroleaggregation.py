"""ClusterRole aggregation controller: a ClusterRole with an aggregationRule holds the rules of the roles it selects.

As Kubernetes' pkg/controller/clusterroleaggregation: for each of its `clusterRoleSelectors` in turn, the
ClusterRoles whose labels match (by name, never itself) give their rules, each rule once; when the result differs
from the role's rules, it is written by server-side apply (field manager clusterrole-aggregation-controller,
forced), so it owns the rules and nothing else. Any ClusterRole change may change any aggregate, and aggregates
nest (view feeds edit, edit feeds admin), so every change enqueues every aggregated role: the set is small, and
repeated syncs converge. Level-triggered and idempotent: a role already right is not written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from controllers.base import Controller
from kube import labels
from kube.informer import object_key
from kube.resources import ResourceType, by_plural

__all__ = ["FIELD_MANAGER", "ClusterRoleAggregationController", "aggregated_rules"]

Obj = dict[str, Any]

FIELD_MANAGER = "clusterrole-aggregation-controller"
_RULE_FIELDS = ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")


def _found(plural: str) -> ResourceType:
    resource = by_plural("rbac.authorization.k8s.io", "v1", plural)
    assert resource is not None, plural
    return resource


CLUSTERROLES = _found("clusterroles")


def _rule(rule: Mapping[str, Any]) -> Obj:
    """A PolicyRule's five fields, empty ones left out (nil and [] are the same rule)."""
    return {name: list(rule[name]) for name in _RULE_FIELDS if rule.get(name)}


def aggregated_rules(role: Mapping[str, Any], cluster_roles: Iterable[Mapping[str, Any]]) -> list[Obj]:
    """The rules `role`'s aggregationRule gathers from `cluster_roles`, in Kubernetes' order: selector by selector,
    matching roles by name, each distinct rule at its first appearance. ValueError for an invalid selector."""
    name = (role.get("metadata") or {}).get("name")
    candidates = sorted(cluster_roles, key=lambda r: (r.get("metadata") or {}).get("name") or "")
    rules: list[Obj] = []
    for selector in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
        match = labels.from_label_selector(selector)
        for other in candidates:
            meta = other.get("metadata") or {}
            if meta.get("name") == name or not match.matches(meta.get("labels")):
                continue
            for rule in other.get("rules") or []:
                normalized = _rule(rule)
                if normalized not in rules:
                    rules.append(normalized)
    return rules


class ClusterRoleAggregationController(Controller):
    name: ClassVar[str] = "clusterrole-aggregation"
    primary: ClassVar[ResourceType | None] = CLUSTERROLES
    workers: ClassVar[int] = 2

    def _aggregated(self) -> list[Obj]:
        return [r for r in self.informer.list() if r.get("aggregationRule") is not None]

    def enqueue(self, obj: Obj) -> None:
        """Any ClusterRole added, changed or deleted: look again at every aggregated one."""
        for role in self._aggregated():
            self.queue.add(object_key(role))

    def initial_keys(self) -> list[str]:
        return [object_key(r) for r in self._aggregated()]

    async def sync(self, key: str) -> None:
        role = self.informer.get(key)
        if role is None or role.get("aggregationRule") is None:
            return
        rules = aggregated_rules(role, self.informer.list())
        if rules == [_rule(r) for r in role.get("rules") or []]:
            return
        name = role["metadata"]["name"]
        self.log.info("clusterrole %s: %d rules aggregated", name, len(rules))
        await self.client.patch(
            CLUSTERROLES, name,
            {"apiVersion": CLUSTERROLES.api_version, "kind": CLUSTERROLES.kind, "metadata": {"name": name},
             "rules": rules},
            patch_type="apply", params={"fieldManager": FIELD_MANAGER, "force": "true"})
