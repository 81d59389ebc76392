"""networking.k8s.io/v1: Ingress, IngressClass and NetworkPolicy, as k8s.io/api/networking/v1 types them.

Served and stored only: nothing in kubelite acts on them (no ingress controller routes an Ingress, no proxy
enforces a NetworkPolicy), as in a Kubernetes cluster without an ingress controller or a policy-aware network
plugin. Core Services and Endpoints are in `kube.models.network`.
"""

from __future__ import annotations

from pydantic import Field

from kube.models.base import Int32, IntOrString, KubeModel
from kube.models.meta import LabelSelector, TypedObject

__all__ = [
    "HTTPIngressPath", "HTTPIngressRuleValue", "IPBlock", "Ingress", "IngressBackend", "IngressClass",
    "IngressClassParametersReference", "IngressClassSpec", "IngressLoadBalancerIngress", "IngressLoadBalancerStatus",
    "IngressPortStatus", "IngressRule", "IngressServiceBackend", "IngressSpec", "IngressStatus", "IngressTLS",
    "NetworkPolicy", "NetworkPolicyEgressRule", "NetworkPolicyIngressRule", "NetworkPolicyPeer", "NetworkPolicyPort",
    "NetworkPolicySpec", "ServiceBackendPort", "TypedLocalObjectReference",
]


# ---------------------------------------------------------------- Ingress

class TypedLocalObjectReference(KubeModel):
    """core/v1 TypedLocalObjectReference: an object in the same namespace, by group, kind and name."""

    api_group: str | None = None
    kind: str | None = None
    name: str | None = None


class ServiceBackendPort(KubeModel):
    name: str | None = None
    number: Int32 | None = None


class IngressServiceBackend(KubeModel):
    name: str | None = None
    port: ServiceBackendPort = Field(default_factory=ServiceBackendPort)


class IngressBackend(KubeModel):
    service: IngressServiceBackend | None = None
    resource: TypedLocalObjectReference | None = None


class HTTPIngressPath(KubeModel):
    path: str | None = None
    path_type: str | None = None
    backend: IngressBackend = Field(default_factory=IngressBackend)


class HTTPIngressRuleValue(KubeModel):
    paths: list[HTTPIngressPath] = Field(default_factory=list)


class IngressRule(KubeModel):
    host: str | None = None
    http: HTTPIngressRuleValue | None = None


class IngressTLS(KubeModel):
    hosts: list[str] = Field(default_factory=list)
    secret_name: str | None = None


class IngressSpec(KubeModel):
    ingress_class_name: str | None = None
    default_backend: IngressBackend | None = None
    tls: list[IngressTLS] = Field(default_factory=list)
    rules: list[IngressRule] = Field(default_factory=list)


class IngressPortStatus(KubeModel):
    port: Int32 | None = None
    protocol: str | None = None
    error: str | None = None


class IngressLoadBalancerIngress(KubeModel):
    ip: str | None = None
    hostname: str | None = None
    ports: list[IngressPortStatus] = Field(default_factory=list)


class IngressLoadBalancerStatus(KubeModel):
    ingress: list[IngressLoadBalancerIngress] = Field(default_factory=list)


class IngressStatus(KubeModel):
    load_balancer: IngressLoadBalancerStatus = Field(default_factory=IngressLoadBalancerStatus)


class Ingress(TypedObject):
    spec: IngressSpec = Field(default_factory=IngressSpec)
    status: IngressStatus | None = None


# ---------------------------------------------------------------- IngressClass

class IngressClassParametersReference(KubeModel):
    api_group: str | None = None
    kind: str | None = None
    name: str | None = None
    scope: str | None = None
    namespace: str | None = None


class IngressClassSpec(KubeModel):
    controller: str | None = None
    parameters: IngressClassParametersReference | None = None


class IngressClass(TypedObject):
    spec: IngressClassSpec = Field(default_factory=IngressClassSpec)


# ---------------------------------------------------------------- NetworkPolicy

class NetworkPolicyPort(KubeModel):
    protocol: str | None = None
    port: IntOrString | None = None
    end_port: Int32 | None = None


class IPBlock(KubeModel):
    cidr: str | None = None
    except_: list[str] = Field(default_factory=list, alias="except")


class NetworkPolicyPeer(KubeModel):
    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None


class NetworkPolicyIngressRule(KubeModel):
    ports: list[NetworkPolicyPort] = Field(default_factory=list)
    from_: list[NetworkPolicyPeer] = Field(default_factory=list, alias="from")


class NetworkPolicyEgressRule(KubeModel):
    ports: list[NetworkPolicyPort] = Field(default_factory=list)
    to: list[NetworkPolicyPeer] = Field(default_factory=list)


class NetworkPolicySpec(KubeModel):
    pod_selector: LabelSelector = Field(default_factory=LabelSelector)
    ingress: list[NetworkPolicyIngressRule] = Field(default_factory=list)
    egress: list[NetworkPolicyEgressRule] = Field(default_factory=list)
    policy_types: list[str] = Field(default_factory=list)


class NetworkPolicy(TypedObject):
    spec: NetworkPolicySpec = Field(default_factory=NetworkPolicySpec)
