"""Services and Endpoints: defaults (type, protocol, targetPort) and the port rules users hit first."""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar

from apiserver import validation as v
from apiserver.registry.base import Strategy
from kube import errors
from kube.models import KubeModel
from kube.models import network as models

__all__ = ["EndpointsStrategy", "ServiceStrategy"]

Obj = dict[str, Any]
Causes = list[errors.Cause]

TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]
AFFINITIES = ["ClientIP", "None"]
TRAFFIC_POLICIES = ["Cluster", "Local"]


def _port_range(value: Any, path: str) -> Causes:
    if isinstance(value, int) and not 1 <= value <= 65535:
        return [v.invalid(path, value, "must be between 1 and 65535, inclusive")]
    return []


class ServiceStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = models.Service
    status_subresource = True

    def default(self, svc: models.Service) -> None:
        spec = svc.spec
        spec.type = spec.type or "ClusterIP"
        if spec.type != "ExternalName":
            spec.session_affinity = spec.session_affinity or "None"
            spec.internal_traffic_policy = spec.internal_traffic_policy or "Cluster"
            spec.ip_families = spec.ip_families or ["IPv4"]
            spec.ip_family_policy = spec.ip_family_policy or "SingleStack"
        if spec.type in ("NodePort", "LoadBalancer"):
            spec.external_traffic_policy = spec.external_traffic_policy or "Cluster"
        if spec.session_affinity == "ClientIP" and spec.session_affinity_config is None:
            spec.session_affinity_config = models.SessionAffinityConfig(client_ip={"timeoutSeconds": 10800})
        if spec.cluster_ip and not spec.cluster_ips:
            spec.cluster_ips = [spec.cluster_ip]
        for port in spec.ports:
            port.protocol = port.protocol or "TCP"
            if port.target_port is None:
                port.target_port = port.port

    def prepare_for_create(self, obj: Obj) -> None:
        obj["status"] = {"loadBalancer": {}}

    def validate(self, obj: Obj) -> Causes:
        causes = self.validate_metadata(obj)
        meta = obj.get("metadata") or {}
        if meta.get("name"):
            causes = [c for c in causes if c["field"] != "metadata.name"] + v.dns1123_label(meta["name"],
                                                                                          "metadata.name")
        spec = obj.get("spec") or {}
        kind = spec.get("type")
        if kind not in TYPES:
            causes.append(v.not_supported("spec.type", kind, TYPES))
        headless = spec.get("clusterIP") == "None"
        ports = spec.get("ports") or []
        if not ports and kind != "ExternalName" and not headless:
            causes.append(v.required("spec.ports"))
        if kind == "ExternalName" and not spec.get("externalName"):
            causes.append(v.required("spec.externalName"))
        seen_names: set[str] = set()
        seen_ports: set[tuple[int, str]] = set()
        for i, port in enumerate(ports):
            p = f"spec.ports[{i}]"
            name = port.get("name") or ""
            if len(ports) > 1 and not name:
                causes.append(v.required(f"{p}.name"))
            elif name:
                causes += v.dns1123_label(name, f"{p}.name")
                if name in seen_names:
                    causes.append(v.duplicate(f"{p}.name", name))
                seen_names.add(name)
            causes += _port_range(port.get("port"), f"{p}.port")
            if port.get("protocol") not in PROTOCOLS:
                causes.append(v.not_supported(f"{p}.protocol", port.get("protocol"), PROTOCOLS))
            key = (port.get("port"), port.get("protocol"))
            if key in seen_ports:
                causes.append(v.duplicate(p, {"port": port.get("port"), "protocol": port.get("protocol")}))
            seen_ports.add(key)
            target = port.get("targetPort")
            if isinstance(target, int):
                causes += _port_range(target, f"{p}.targetPort")
            elif isinstance(target, str) and (not target or len(target) > 15 or not target.replace("-", "").isalnum()):
                causes.append(v.invalid(f"{p}.targetPort", target, "must contain only alpha-numeric characters "
                                        "(a-z, 0-9), and hyphens (-), at most 15 characters"))
            node_port = port.get("nodePort")
            if node_port is not None:
                if kind not in ("NodePort", "LoadBalancer"):
                    causes.append(v.forbidden(f"{p}.nodePort", "may not be used when `type` is 'ClusterIP'"))
                causes += _port_range(node_port, f"{p}.nodePort")
        for key, value in (spec.get("selector") or {}).items():
            causes += v.label_key(key, "spec.selector")
            causes += v.label_value(value, f"spec.selector.{key}")
        ip = spec.get("clusterIP")
        if ip and ip != "None":
            try:
                ipaddress.IPv4Address(ip)
            except ValueError:
                causes.append(v.invalid("spec.clusterIP", ip, "must be a valid IP address, (e.g. 10.9.8.7 or "
                                                               "2001:db8::ffff)"))
        if headless and kind not in ("ClusterIP", None):
            causes.append(v.invalid("spec.clusterIP", ip, "may not be set to 'None' for NodePort services"))
        if spec.get("sessionAffinity") not in (*AFFINITIES, None):
            causes.append(v.not_supported("spec.sessionAffinity", spec.get("sessionAffinity"), AFFINITIES))
        for field in ("externalTrafficPolicy", "internalTrafficPolicy"):
            if spec.get(field) not in (*TRAFFIC_POLICIES, None):
                causes.append(v.not_supported(f"spec.{field}", spec.get(field), TRAFFIC_POLICIES))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        causes = self.validate(new)
        old_ip, new_ip = old["spec"].get("clusterIP"), new["spec"].get("clusterIP")
        if old_ip and new_ip != old_ip and new["spec"].get("type") != "ExternalName":
            causes.append(v.invalid("spec.clusterIPs[0]", new_ip, "may not change once set"))
        return causes


class EndpointsStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = models.Endpoints

    def validate(self, obj: Obj) -> Causes:
        causes = self.validate_metadata(obj)
        for i, subset in enumerate(obj.get("subsets") or []):
            for group in ("addresses", "notReadyAddresses"):
                for j, address in enumerate(subset.get(group) or []):
                    try:
                        ipaddress.ip_address(address["ip"])
                    except ValueError:
                        causes.append(v.invalid(f"subsets[{i}].{group}[{j}].ip", address["ip"],
                                                "must be a valid IP address"))
            for j, port in enumerate(subset.get("ports") or []):
                causes += _port_range(port.get("port"), f"subsets[{i}].ports[{j}].port")
        return causes
