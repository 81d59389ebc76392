"""The RBAC objects the authorizer decides on, held in memory and fed from the apiserver's watch caches.

Authorization never reads etcd: the apiserver lists Roles, ClusterRoles, RoleBindings and ClusterRoleBindings
once (`replace`), then applies every watch event (`apply`), as Kubernetes' RBAC authorizer reads its informers'
listers. A role is found by its key in O(1); bindings are indexed by namespace, and each namespace's bindings are
kept as a tuple rebuilt on write, so a request reads a snapshot that no concurrent event changes under it.

Neighbours: rbac.py (the authorizer, through its `RBACObjects` protocol).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["KINDS", "InMemoryRBACObjects"]

Obj = dict[str, Any]

KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
_BY_NAME = {
    **{kind: kind for kind in KINDS},
    **{kind.lower() + "s": kind for kind in KINDS},  # the resources: roles, clusterroles, ...
}


def _kind(kind: str | None, obj: Obj | None = None) -> str:
    found = _BY_NAME.get(kind or (obj or {}).get("kind") or "")
    if found is None:
        raise ValueError(f"not an RBAC kind: {kind or (obj or {}).get('kind')!r}")
    return found


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


class InMemoryRBACObjects:
    """Satisfies `rbac.RBACObjects`. Objects are kept as given: callers must not mutate them afterwards."""

    def __init__(self, objects: Iterable[Obj] = ()) -> None:
        self._roles: dict[tuple[str, str], Obj] = {}
        self._cluster_roles: dict[str, Obj] = {}
        self._role_bindings: dict[str, dict[str, Obj]] = {}
        self._role_binding_views: dict[str, tuple[Obj, ...]] = {}
        self._cluster_role_bindings: dict[str, Obj] = {}
        self._cluster_role_binding_view: tuple[Obj, ...] = ()
        #: changes with every write, so what is derived from the objects (the authorizer's cache) knows it is stale
        self.generation = 0
        for obj in objects:
            self.apply("ADDED", obj)

    # ------------------------------------------------------------------ reads (rbac.RBACObjects)

    def get_role(self, namespace: str, name: str) -> Obj | None:
        return self._roles.get((namespace, name))

    def get_cluster_role(self, name: str) -> Obj | None:
        return self._cluster_roles.get(name)

    def role_bindings(self, namespace: str) -> tuple[Obj, ...]:
        return self._role_binding_views.get(namespace, ())

    def cluster_role_bindings(self) -> tuple[Obj, ...]:
        return self._cluster_role_binding_view

    def counts(self) -> dict[str, int]:
        """How many of each kind are held (for metrics and logs)."""
        return {"Role": len(self._roles), "ClusterRole": len(self._cluster_roles),
                "RoleBinding": sum(len(b) for b in self._role_bindings.values()),
                "ClusterRoleBinding": len(self._cluster_role_bindings)}

    # ------------------------------------------------------------------ writes

    def apply(self, event_type: str, obj: Obj, kind: str | None = None) -> None:
        """One watch event: ADDED and MODIFIED store `obj`, DELETED removes its key; BOOKMARK and ERROR are
        ignored. `kind` (Role, or the resource `roles`, ...) defaults to the object's own `kind`."""
        if event_type not in ("ADDED", "MODIFIED", "DELETED"):
            return
        self.generation += 1
        which = _kind(kind, obj)
        namespace, name = _key(obj)
        deleted = event_type == "DELETED"
        if which == "Role":
            if deleted:
                self._roles.pop((namespace, name), None)
            else:
                self._roles[(namespace, name)] = obj
        elif which == "ClusterRole":
            if deleted:
                self._cluster_roles.pop(name, None)
            else:
                self._cluster_roles[name] = obj
        elif which == "RoleBinding":
            bindings = self._role_bindings.setdefault(namespace, {})
            if deleted:
                bindings.pop(name, None)
            else:
                bindings[name] = obj
            self._refresh_namespace(namespace)
        else:
            if deleted:
                self._cluster_role_bindings.pop(name, None)
            else:
                self._cluster_role_bindings[name] = obj
            self._cluster_role_binding_view = tuple(self._cluster_role_bindings.values())

    def replace(self, kind: str, objs: Iterable[Obj]) -> None:
        """Every object of `kind` at once (a list, or a re-list after 410 Gone): the ones absent are forgotten."""
        which = _kind(kind)
        items = list(objs)
        self.generation += 1
        if which == "Role":
            self._roles = {_key(o): o for o in items}
        elif which == "ClusterRole":
            self._cluster_roles = {_key(o)[1]: o for o in items}
        elif which == "RoleBinding":
            grouped: dict[str, dict[str, Obj]] = {}
            for obj in items:
                namespace, name = _key(obj)
                grouped.setdefault(namespace, {})[name] = obj
            self._role_bindings = grouped
            self._role_binding_views = {ns: tuple(b.values()) for ns, b in grouped.items()}
        else:
            self._cluster_role_bindings = {_key(o)[1]: o for o in items}
            self._cluster_role_binding_view = tuple(self._cluster_role_bindings.values())

    def _refresh_namespace(self, namespace: str) -> None:
        bindings = self._role_bindings.get(namespace) or {}
        if bindings:
            self._role_binding_views[namespace] = tuple(bindings.values())
        else:
            self._role_bindings.pop(namespace, None)
            self._role_binding_views.pop(namespace, None)
