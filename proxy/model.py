"""What a proxy programs, in neutral types: one `ServicePort` per (Service, port) with its ready endpoints.

`build` turns the informers' Services and Endpoints into that list, once, for both backends (kernel rules in
`proxy.iptables`, forwarders in `proxy.userspace`), so which endpoints serve which address is decided in one
place. Services it cannot use come back as `Problem`s for the proxier to log and record as Events.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PROTOCOLS", "Endpoint", "Problem", "ServicePort", "build"]

Obj = dict[str, Any]

PROTOCOLS = ("TCP", "UDP", "SCTP")


@dataclass(frozen=True, order=True)
class Endpoint:
    ip: str
    port: int
    node: str = ""  # the endpoint's nodeName, for the Local traffic policies

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class ServicePort:
    namespace: str
    name: str
    port_name: str
    protocol: str
    cluster_ip: str
    port: int
    node_port: int | None = None
    endpoints: tuple[Endpoint, ...] = ()  # ready ones, sorted
    affinity_seconds: int = 0  # sessionAffinity ClientIP timeout; 0: none
    internal_local: bool = False  # internalTrafficPolicy Local: ClusterIP traffic to this node's endpoints only
    external_local: bool = False  # externalTrafficPolicy Local: NodePort traffic likewise, client IP kept

    @property
    def key(self) -> str:
        """`namespace/name:port` as kube-proxy names a service port (`namespace/name` when the port has no name)."""
        return f"{self.namespace}/{self.name}" + (f":{self.port_name}" if self.port_name else "")

    def cluster_endpoints(self, node: str) -> tuple[Endpoint, ...]:
        return self._local(node) if self.internal_local else self.endpoints

    def external_endpoints(self, node: str) -> tuple[Endpoint, ...]:
        return self._local(node) if self.external_local else self.endpoints

    def _local(self, node: str) -> tuple[Endpoint, ...]:
        return tuple(e for e in self.endpoints if e.node == node)


@dataclass(frozen=True)
class Problem:
    """A Service (or one of its ports) the proxy cannot program, and why."""

    namespace: str
    name: str
    reason: str
    message: str


def _endpoints_for(endpoints: Obj | None, port_name: str, protocol: str) -> tuple[Endpoint, ...]:
    found: set[Endpoint] = set()
    for subset in (endpoints or {}).get("subsets") or []:
        for ep_port in subset.get("ports") or []:
            if (ep_port.get("name") or "") != port_name or (ep_port.get("protocol") or "TCP") != protocol:
                continue
            for address in subset.get("addresses") or []:
                try:
                    ipaddress.IPv4Address(address.get("ip", ""))
                except ValueError:
                    continue  # IPv6 or garbage: this proxy is IPv4 only
                found.add(Endpoint(address["ip"], int(ep_port["port"]), address.get("nodeName") or ""))
    return tuple(sorted(found))


def build(services: Iterable[Obj], endpoints: Mapping[str, Obj]) -> tuple[list[ServicePort], list[Problem]]:
    """Every programmable service port (ClusterIP set, not headless, not ExternalName) with its ready
    endpoints; `endpoints` is keyed `namespace/name`."""
    ports: list[ServicePort] = []
    problems: list[Problem] = []
    for svc in services:
        meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        ip = spec.get("clusterIP")
        if spec.get("type") == "ExternalName" or not ip or ip == "None":
            continue
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            problems.append(Problem(ns, name, "UnsupportedClusterIP", f"cluster IP {ip!r} is not an IPv4 address"))
            continue
        affinity = 0
        if spec.get("sessionAffinity") == "ClientIP":
            config = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
            affinity = int(config.get("timeoutSeconds") or 10800)
        node_ports = spec.get("type") in ("NodePort", "LoadBalancer")
        for port in spec.get("ports") or []:
            protocol = port.get("protocol") or "TCP"
            port_name = port.get("name") or ""
            if protocol not in PROTOCOLS:
                problems.append(Problem(ns, name, "UnsupportedProtocol",
                                        f"port {port_name or port.get('port')}: protocol {protocol} is not supported"))
                continue
            ports.append(ServicePort(
                namespace=ns, name=name, port_name=port_name, protocol=protocol, cluster_ip=ip,
                port=int(port["port"]),
                node_port=int(port["nodePort"]) if node_ports and port.get("nodePort") else None,
                endpoints=_endpoints_for(endpoints.get(f"{ns}/{name}"), port_name, protocol),
                affinity_seconds=affinity,
                internal_local=spec.get("internalTrafficPolicy") == "Local",
                external_local=spec.get("externalTrafficPolicy") == "Local",
            ))
    ports.sort(key=lambda p: (p.namespace, p.name, p.port_name, p.protocol))
    return ports, problems
