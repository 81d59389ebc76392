"""NodeRestriction: a kubelet changes only its own Node, its own Lease and the pods bound to it.

The Node authorizer lets kubelets write nodes, pods/status and leases at all; this plugin, as Kubernetes'
plugin/pkg/admission/noderestriction, looks at which object: another node's Node or pods are refused with
Kubernetes' words, and so are a kubelet's own changes that would steer workloads to it (its taints,
node-restriction.kubernetes.io/ labels, kubernetes.io labels that are not the kubelet's own). kubelite has no
static pods, so a kubelet creates no pods at all (Kubernetes lets it create mirror pods only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from apiserver.admission.chain import Attributes, Plugin
from apiserver.authn.user import node_name
from kube import errors
from kube.resources import PODS

if TYPE_CHECKING:
    from apiserver.rest import Registry

__all__ = ["NodeRestriction", "forbidden_labels"]

Obj = dict[str, Any]

MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
NODE_LEASE_NAMESPACE = "kube-node-lease"
_RESTRICTION_NAMESPACE = "node-restriction.kubernetes.io"
#: the kubernetes.io labels a kubelet sets on its own Node (k8s.io/kubelet/pkg/apis.IsKubeletLabel)
_KUBELET_LABELS = {
    "kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os", "beta.kubernetes.io/arch",
    "beta.kubernetes.io/os", "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
    "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
    "topology.kubernetes.io/region", "topology.kubernetes.io/zone",
}
_KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")


def _label_namespace(key: str) -> str:
    prefix, sep, _ = key.partition("/")
    return prefix if sep else ""


def _in(namespace: str, domain: str) -> bool:
    return namespace == domain or namespace.endswith("." + domain)


def _kubelet_label(key: str) -> bool:
    return key in _KUBELET_LABELS or any(_in(_label_namespace(key), ns) for ns in _KUBELET_LABEL_NAMESPACES)


def forbidden_labels(new: dict[str, str], old: dict[str, str]) -> list[str]:
    """Labels a node may not add, change or remove on itself."""
    changed = {k for k in new.keys() | old.keys() if new.get(k) != old.get(k)}
    out = []
    for key in changed:
        namespace = _label_namespace(key)
        kubernetes = _in(namespace, "kubernetes.io") or _in(namespace, "k8s.io")
        if _in(namespace, _RESTRICTION_NAMESPACE) or (kubernetes and not _kubelet_label(key)):
            out.append(key)
    return sorted(out)


def _labels(obj: Obj | None) -> dict[str, str]:
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def _node_of(pod: Obj | None) -> str:
    return ((pod or {}).get("spec") or {}).get("nodeName") or ""


class NodeRestriction(Plugin):
    name = "NodeRestriction"

    def __init__(self) -> None:
        self._registry: Registry | None = None

    async def start(self, registry: Registry) -> None:
        self._registry = registry

    async def validate(self, attrs: Attributes) -> None:
        node = node_name(attrs.user) if attrs.user is not None else None
        if node is None:
            return
        resource = attrs.resource
        if resource.group == "" and resource.plural == "pods":
            self._pod(node, attrs)
        elif resource.group == "" and resource.plural == "nodes":
            self._node(node, attrs)
        elif resource.group == "" and resource.plural == "serviceaccounts" and attrs.subresource == "token":
            await self._token(node, attrs)
        elif resource.group == "coordination.k8s.io" and resource.plural == "leases":
            name = attrs.name or ((attrs.obj or {}).get("metadata") or {}).get("name", "")
            if attrs.namespace != NODE_LEASE_NAMESPACE or name != node:
                self._refuse(attrs, "can only access node lease with the same name as the requesting node")

    def _pod(self, node: str, attrs: Attributes) -> None:
        if attrs.subresource == "status":
            if attrs.operation != "UPDATE":
                self._refuse(attrs, f'unexpected operation "{attrs.operation}"')
            if _node_of(attrs.old) != node:
                self._refuse(attrs, f'node "{node}" can only update pod status for pods with spec.nodeName set to '
                                    "itself")
            if _labels(attrs.obj) != _labels(attrs.old):
                self._refuse(attrs, f'node "{node}" cannot update labels through pod status')
        elif attrs.operation == "CREATE":
            self._refuse(attrs, f'pod does not have "{MIRROR_POD_ANNOTATION}" annotation, node "{node}" can only '
                                "create mirror pods")
        elif attrs.operation == "DELETE":
            if _node_of(attrs.old) != node:
                self._refuse(attrs, f'node "{node}" can only delete pods with spec.nodeName set to itself')
        else:
            self._refuse(attrs, f'unexpected operation "{attrs.operation}", node "{node}" can only create and '
                                "delete mirror pods")

    async def _token(self, node: str, attrs: Attributes) -> None:
        """A kubelet's tokens are bound to a pod it runs (Kubernetes' admitServiceAccount)."""
        ref = ((attrs.obj or {}).get("spec") or {}).get("boundObjectRef") or {}
        if ref.get("apiVersion") != "v1" or ref.get("kind") != "Pod" or not ref.get("name"):
            self._refuse(attrs, "node requested token not bound to a pod")
        if not ref.get("uid"):
            self._refuse(attrs, "node requested token with a pod binding without a uid")
        assert self._registry is not None, "started with the registry"
        pod = await self._registry.get(PODS, attrs.namespace, ref["name"])
        if pod["metadata"]["uid"] != ref["uid"]:
            self._refuse(attrs, f"the UID in the bound object reference ({ref['uid']}) does not match the UID in "
                                "record. The object might have been deleted and then recreated")
        if _node_of(pod) != node:
            self._refuse(attrs, "node requested token bound to a pod scheduled on a different node")

    def _node(self, node: str, attrs: Attributes) -> None:
        if attrs.name != node:
            self._refuse(attrs, f'node "{node}" is not allowed to modify node "{attrs.name}"')
        if attrs.operation == "CREATE":
            bad = forbidden_labels(_labels(attrs.obj), {})
            if bad:
                self._refuse(attrs, f'node "{node}" is not allowed to set the following labels: {", ".join(bad)}')
        elif attrs.operation == "UPDATE":
            new_taints = ((attrs.obj or {}).get("spec") or {}).get("taints") or []
            old_taints = ((attrs.old or {}).get("spec") or {}).get("taints") or []
            if new_taints != old_taints:
                self._refuse(attrs, f'node "{node}" is not allowed to modify taints')
            bad = forbidden_labels(_labels(attrs.obj), _labels(attrs.old))
            if bad:
                self._refuse(attrs, f"is not allowed to modify labels: {', '.join(bad)}")

    @staticmethod
    def _refuse(attrs: Attributes, why: str) -> None:
        raise errors.Forbidden.for_resource(attrs.resource.plural, attrs.name, attrs.resource.group, why)
