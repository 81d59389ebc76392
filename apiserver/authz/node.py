"""The Node authorizer: a kubelet (`system:node:NAME` in `system:nodes`) reads only what its own pods need.

As Kubernetes' plugin/pkg/auth/authorizer/node: Secrets, ConfigMaps, PersistentVolumeClaims (and their
PersistentVolumes) and ServiceAccount tokens are granted by a graph of the pods bound to the node; a node's
Lease only by its own name; everything else a kubelet does is the fixed set of node rules (the rules of the
system:node role). A request outside the graph gets no opinion, with Kubernetes' reason
("no relationship found between node 'n1' and this object"), and so a 403. What a kubelet may *change* on
the objects the rules allow (its own Node, its own pods' status) is NodeRestriction's admission check.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from apiserver.authn.user import NODE_USER_PREFIX, NODES_GROUP, node_name
from apiserver.authz import rbac
from apiserver.authz.attributes import Attributes, Decision, Verdict
from kube import podrefs
from kube.resources import ResourceType

__all__ = ["NodeAuthorizer", "NodeGraph"]

Obj = dict[str, Any]
Ref = tuple[str, str, str]  # (resource, namespace, name)

LEASE_NAMESPACE = "kube-node-lease"
_READ = ("get", "list", "watch")


def _pod_refs(pod: Obj) -> Counter[Ref]:
    ns = pod["metadata"].get("namespace", "")
    refs: Counter[Ref] = Counter()
    refs.update(("secrets", ns, n) for n in podrefs.secret_names(pod))
    refs.update(("configmaps", ns, n) for n in podrefs.configmap_names(pod))
    refs.update(("persistentvolumeclaims", ns, n) for n in podrefs.pvc_names(pod))
    refs[("serviceaccounts", ns, podrefs.service_account_name(pod))] += 1
    return refs


class NodeGraph:
    """Which objects each node's pods refer to, kept from the pods and claims this apiserver serves."""

    def __init__(self) -> None:
        self._pods: dict[tuple[str, str], tuple[str, Counter[Ref]]] = {}
        self._by_node: dict[str, Counter[Ref]] = {}
        self._claim_volumes: dict[tuple[str, str], str] = {}  # (ns, claim) -> bound PersistentVolume

    # ------------------------------------------------------------------ localinformer.Handler

    def replace(self, rt: ResourceType, objs: list[Obj]) -> None:
        if rt.plural == "pods":
            self._pods.clear()
            self._by_node.clear()
        elif rt.plural == "persistentvolumeclaims":
            self._claim_volumes.clear()
        for obj in objs:
            self.apply(rt, "ADDED", obj)

    def apply(self, rt: ResourceType, event_type: str, obj: Obj) -> None:
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if rt.plural == "persistentvolumeclaims":
            volume = (obj.get("spec") or {}).get("volumeName")
            if event_type == "DELETED" or not volume:
                self._claim_volumes.pop(key, None)
            else:
                self._claim_volumes[key] = volume
            return
        if rt.plural != "pods":
            return
        self._forget(key)
        node = (obj.get("spec") or {}).get("nodeName")
        if event_type != "DELETED" and node:
            refs = _pod_refs(obj)
            self._pods[key] = (node, refs)
            self._by_node.setdefault(node, Counter()).update(refs)

    def _forget(self, key: tuple[str, str]) -> None:
        old = self._pods.pop(key, None)
        if old is None:
            return
        node, refs = old
        counts = self._by_node.get(node)
        if counts is not None:
            counts.subtract(refs)
            for ref in [r for r, n in counts.items() if n <= 0]:
                del counts[ref]
            if not counts:
                del self._by_node[node]

    # ------------------------------------------------------------------ questions

    def related(self, node: str, resource: str, namespace: str, name: str) -> bool:
        refs = self._by_node.get(node)
        if not refs:
            return False
        if resource == "persistentvolumes":
            return any(r == "persistentvolumeclaims" and self._claim_volumes.get((ns, claim)) == name
                       for r, ns, claim in refs)
        return refs.get((resource, namespace, name), 0) > 0

    def runs(self, node: str, namespace: str, pod: str) -> bool:
        bound = self._pods.get((namespace, pod))
        return bound is not None and bound[0] == node


class NodeAuthorizer:
    def __init__(self, graph: NodeGraph, node_rules: Iterable[Mapping[str, Any]]) -> None:
        self.graph = graph
        self.node_rules = list(node_rules)

    def authorize(self, attrs: Attributes) -> Verdict:
        node = node_name(attrs.user)
        if node is None:
            if NODES_GROUP in attrs.user.groups or attrs.user.name.startswith(NODE_USER_PREFIX):
                return Verdict(Decision.NO_OPINION, "unknown node")
            return Verdict(Decision.NO_OPINION)
        if attrs.resource_request:
            verdict = self._graph_decision(node, attrs)
            if verdict is not None:
                return verdict
        if rbac.rules_allow(attrs, self.node_rules):
            return Verdict(Decision.ALLOW)
        return Verdict(Decision.NO_OPINION)

    def _graph_decision(self, node: str, attrs: Attributes) -> Verdict | None:
        """The decision for the kinds the graph governs; None for the rest (the node rules decide)."""
        group, resource = attrs.api_group, attrs.resource
        if group == "" and resource in ("secrets", "configmaps"):
            return self._read_namespaced(node, attrs)
        if group == "" and resource == "persistentvolumeclaims":
            if attrs.subresource == "status":
                if attrs.verb not in ("update", "patch"):
                    return Verdict(Decision.NO_OPINION, "can only get or update persistentvolumeclaim status")
                return self._related(node, attrs)
            return self._get(node, attrs)
        if group == "" and resource == "persistentvolumes":
            return self._get(node, attrs)
        if group == "" and resource == "serviceaccounts":
            if attrs.verb != "create" or attrs.subresource != "token" or not attrs.name:
                return Verdict(Decision.NO_OPINION, "can only create tokens for individual service accounts")
            return self._related(node, attrs)
        if group == "coordination.k8s.io" and resource == "leases":
            return self._lease(node, attrs)
        return None

    def _read_namespaced(self, node: str, attrs: Attributes) -> Verdict:
        if attrs.verb not in _READ:
            return Verdict(Decision.NO_OPINION, "can only read resources of this type")
        if attrs.subresource:
            return Verdict(Decision.NO_OPINION, "cannot read subresource")
        if not attrs.namespace:
            return Verdict(Decision.NO_OPINION, "can only read namespaced object of this type")
        return self._related(node, attrs)

    def _get(self, node: str, attrs: Attributes) -> Verdict:
        if attrs.verb != "get":
            return Verdict(Decision.NO_OPINION, "can only get individual resources of this type")
        if attrs.subresource:
            return Verdict(Decision.NO_OPINION, "cannot get subresource")
        return self._related(node, attrs)

    def _related(self, node: str, attrs: Attributes) -> Verdict:
        if not attrs.name:
            return Verdict(Decision.NO_OPINION, "No Object name found")
        if self.graph.related(node, attrs.resource, attrs.namespace, attrs.name):
            return Verdict(Decision.ALLOW)
        return Verdict(Decision.NO_OPINION, f"no relationship found between node '{node}' and this object")

    def _lease(self, node: str, attrs: Attributes) -> Verdict:
        if attrs.verb not in ("get", "create", "update", "patch", "delete"):
            return Verdict(Decision.NO_OPINION, "can only get, create, update, patch, or delete a node lease")
        if attrs.namespace != LEASE_NAMESPACE:
            return Verdict(Decision.NO_OPINION, f"can only access leases in the {LEASE_NAMESPACE} system namespace")
        if attrs.verb != "create" and attrs.name != node:
            return Verdict(Decision.NO_OPINION, "can only access node lease with the same name as the requesting node")
        return Verdict(Decision.ALLOW)
