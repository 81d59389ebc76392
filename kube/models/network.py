"""core/v1 Service and Endpoints: how clients find a set of Pods."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kube.models.base import Int32, IntOrString, KubeModel
from kube.models.meta import ObjectReference, TypedObject


class ServicePort(KubeModel):
    port: Int32
    name: str | None = None
    protocol: str | None = None
    target_port: IntOrString | None = None
    node_port: Int32 | None = None
    app_protocol: str | None = None


class SessionAffinityConfig(KubeModel):
    client_ip: dict[str, Any] | None = Field(default=None, alias="clientIP")


class ServiceSpec(KubeModel):
    ports: list[ServicePort] = Field(default_factory=list)
    selector: dict[str, str] = Field(default_factory=dict)
    cluster_ip: str | None = Field(default=None, alias="clusterIP")
    cluster_ips: list[str] = Field(default_factory=list, alias="clusterIPs")
    type: str | None = None
    external_ips: list[str] = Field(default_factory=list, alias="externalIPs")
    session_affinity: str | None = None
    session_affinity_config: SessionAffinityConfig | None = None
    load_balancer_ip: str | None = Field(default=None, alias="loadBalancerIP")
    external_name: str | None = None
    external_traffic_policy: str | None = None
    internal_traffic_policy: str | None = None
    health_check_node_port: Int32 | None = None
    publish_not_ready_addresses: bool | None = None
    ip_families: list[str] = Field(default_factory=list)
    ip_family_policy: str | None = None
    allocate_load_balancer_node_ports: bool | None = None
    load_balancer_class: str | None = None
    traffic_distribution: str | None = None


class ServiceStatus(KubeModel):
    load_balancer: dict[str, Any] = Field(default_factory=dict)
    conditions: list[dict[str, Any]] = Field(default_factory=list)


class Service(TypedObject):
    spec: ServiceSpec = Field(default_factory=ServiceSpec)
    status: ServiceStatus | None = None


class EndpointAddress(KubeModel):
    ip: str
    hostname: str | None = None
    node_name: str | None = None
    target_ref: ObjectReference | None = None


class EndpointPort(KubeModel):
    port: Int32
    name: str | None = None
    protocol: str | None = None
    app_protocol: str | None = None


class EndpointSubset(KubeModel):
    addresses: list[EndpointAddress] = Field(default_factory=list)
    not_ready_addresses: list[EndpointAddress] = Field(default_factory=list)
    ports: list[EndpointPort] = Field(default_factory=list)


class Endpoints(TypedObject):
    subsets: list[EndpointSubset] = Field(default_factory=list)
