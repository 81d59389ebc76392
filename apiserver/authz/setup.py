"""--authorization-mode built into one authorizer, the in-memory indexes it decides from, and the default
RBAC policy written at start-up (Kubernetes' rbac/bootstrap-roles post-start hook).

The indexes are fed by in-process informers over this apiserver's own watch caches; the apiserver reports
ready only once they have listed, so no request is refused for want of a role that exists.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from apiserver.authz import bootstrappolicy
from apiserver.authz.attributes import Authorizer
from apiserver.authz.chain import AlwaysAllow, AlwaysDeny, AuthorizerChain
from apiserver.authz.node import NodeAuthorizer, NodeGraph
from apiserver.authz.rbac import RBACAuthorizer
from apiserver.authz.rbacstore import InMemoryRBACObjects
from apiserver.localinformer import LocalInformer
from apiserver.params import DeleteOptions, ListOptions, WriteOptions
from kube import errors
from kube.resources import PERSISTENTVOLUMECLAIMS, PODS, ResourceType, by_kind

if TYPE_CHECKING:
    from apiserver.rest import Registry

__all__ = ["MODES", "Authorization", "parse_modes"]

log = logging.getLogger("apiserver.authz")

MODES = ("AlwaysAllow", "AlwaysDeny", "RBAC", "Node")
RBAC_KINDS = ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
MANAGER = "rbac-bootstrap"  # the field manager of the default policy's writes

Obj = dict[str, Any]


def parse_modes(text: str) -> tuple[str, ...]:
    """--authorization-mode as kube-apiserver takes it: known names, each once, in order."""
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes or len(set(modes)) != len(modes):
        raise ValueError(f"--authorization-mode {text!r}: use each of {', '.join(MODES)} at most once")
    return modes


def _rbac_resource(kind: str) -> ResourceType:
    found = by_kind(bootstrappolicy.RBAC_API_VERSION, kind)
    assert found is not None, kind
    return found


class _RBACFeed:
    """localinformer.Handler writing RBAC events into the authorizer's store."""

    def __init__(self, store: InMemoryRBACObjects) -> None:
        self.store = store

    def replace(self, rt: ResourceType, objs: list[Obj]) -> None:
        self.store.replace(rt.kind, objs)

    def apply(self, rt: ResourceType, event_type: str, obj: Obj) -> None:
        self.store.apply(event_type, obj, rt.kind)


def _node_rules() -> list[Obj]:
    role = next(r for r in bootstrappolicy.cluster_roles() if r["metadata"]["name"] == "system:node")
    return list(role["rules"])


@dataclass
class Authorization:
    modes: tuple[str, ...]
    authorizer: Authorizer = field(init=False)
    rbac_store: InMemoryRBACObjects | None = field(init=False, default=None)
    rbac: RBACAuthorizer | None = field(init=False, default=None)
    graph: NodeGraph | None = field(init=False, default=None)
    _informers: list[LocalInformer] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        built: list[Authorizer] = []
        for mode in self.modes:
            if mode == "AlwaysAllow":
                built.append(AlwaysAllow())
            elif mode == "AlwaysDeny":
                built.append(AlwaysDeny())
            elif mode == "RBAC":
                self.rbac_store = InMemoryRBACObjects()
                self.rbac = RBACAuthorizer(self.rbac_store)
                built.append(self.rbac)
            elif mode == "Node":
                self.graph = NodeGraph()
                built.append(NodeAuthorizer(self.graph, _node_rules()))
        self.authorizer = AuthorizerChain(built)

    async def start(self, registry: Registry) -> None:
        """Write the default policy (RBAC), then follow what the authorizers decide from."""
        if self.rbac_store is not None:
            await reconcile_default_policy(registry)
            informer = LocalInformer(registry, [_rbac_resource(k) for k in RBAC_KINDS], _RBACFeed(self.rbac_store))
            self._informers.append(informer)
        if self.graph is not None:
            self._informers.append(LocalInformer(registry, [PODS, PERSISTENTVOLUMECLAIMS], self.graph))
        for informer in self._informers:
            informer.start()

    async def wait_synced(self, timeout: float) -> bool:
        results = [await informer.wait_synced(timeout) for informer in self._informers]
        return all(results)

    @property
    def synced(self) -> bool:
        return all(informer.synced for informer in self._informers)

    async def stop(self) -> None:
        for informer in self._informers:
            await informer.stop()


async def reconcile_default_policy(registry: Registry) -> int:
    """Create the default roles and bindings that are missing and add what autoupdated ones lack; the number of
    writes. Several apiservers may do this at once: a conflict means another did it, and is skipped."""
    existing: list[Obj] = []
    for kind in RBAC_KINDS:
        listed = await registry.list(_rbac_resource(kind), None, ListOptions())
        existing += [{**item, "kind": kind} for item in listed["items"]]
    writes = 0
    options = WriteOptions(field_manager=MANAGER)
    for action in bootstrappolicy.reconcile_plan(existing, bootstrappolicy.policy()):
        rt = _rbac_resource(action.kind)
        namespace = action.obj["metadata"].get("namespace") if rt.namespaced else None
        try:
            if action.operation == bootstrappolicy.CREATE:
                await registry.create(rt, namespace, action.obj, options)
            elif action.operation == bootstrappolicy.UPDATE:
                await registry.update(rt, namespace, action.obj["metadata"]["name"], action.obj, options)
            else:  # recreate: a binding whose roleRef changed (roleRef is immutable)
                old = action.existing or action.obj
                await registry.delete(rt, namespace, old["metadata"]["name"],
                                      DeleteOptions(precondition_uid=old["metadata"].get("uid")))
                fresh = {k: v for k, v in action.obj.items()}
                fresh["metadata"] = {k: v for k, v in action.obj["metadata"].items()
                                     if k not in ("resourceVersion", "uid", "creationTimestamp", "managedFields")}
                await registry.create(rt, namespace, fresh, options)
            writes += 1
        except (errors.Conflict, errors.NotFound) as exc:
            log.info("default policy: %s %s skipped (%s)", action.kind, action.obj["metadata"]["name"], exc)
    if writes:
        log.info("default RBAC policy: %d objects created or updated", writes)
    return writes
