"""Services and Endpoints: defaults (type, protocol, targetPort), the port rules users hit first, and the
ClusterIP and NodePort allocation hooks (`apiserver.allocators`) the generic registry calls around writes."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from datetime import UTC, datetime
from typing import Any, ClassVar

from apiserver import validation as v
from apiserver.allocators import (
    DEFAULT_NODE_PORT_RANGE,
    DEFAULT_SERVICE_CIDR,
    AllocationError,
    Allocator,
    IPRange,
    Owner,
    PortRange,
    parse_port_range,
    parse_service_cidr,
)
from apiserver.registry.base import Strategy
from apiserver.storage import EtcdStorage
from kube import errors
from kube.models import KubeModel
from kube.models import network as models
from kube.resources import SERVICES as SERVICE_RESOURCE

__all__ = ["EndpointsStrategy", "ServiceStrategy", "configure", "repair", "repair_loop"]

log = logging.getLogger("apiserver.services")

Obj = dict[str, Any]
Causes = list[errors.Cause]

TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]
AFFINITIES = ["ClientIP", "None"]
TRAFFIC_POLICIES = ["Cluster", "Local"]
NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


def _port_range(value: Any, path: str) -> Causes:
    if isinstance(value, int) and not 1 <= value <= 65535:
        return [v.invalid(path, value, "must be between 1 and 65535, inclusive")]
    return []


class ServiceStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = models.Service
    status_subresource = True

    def default(self, svc: models.Service) -> None:
        """SetDefaults_Service (pkg/apis/core/v1/defaults.go), and the IP family fields the Service REST
        storage fills for every service with a ClusterIP."""
        spec = svc.spec
        spec.session_affinity = spec.session_affinity or "None"  # for every type, ExternalName included
        if spec.session_affinity == "None":
            spec.session_affinity_config = None
        spec.type = spec.type or "ClusterIP"
        if spec.type != "ExternalName":
            spec.internal_traffic_policy = spec.internal_traffic_policy or "Cluster"
            spec.ip_families = spec.ip_families or ["IPv4"]
            spec.ip_family_policy = spec.ip_family_policy or "SingleStack"
        # service.ExternallyAccessible: a NodePort or LoadBalancer, or a ClusterIP with externalIPs
        if spec.type in ("NodePort", "LoadBalancer") or (spec.type == "ClusterIP" and spec.external_ips):
            spec.external_traffic_policy = spec.external_traffic_policy or "Cluster"
        if spec.type == "LoadBalancer" and spec.allocate_load_balancer_node_ports is None:
            spec.allocate_load_balancer_node_ports = True
        if spec.session_affinity == "ClientIP":
            config = spec.session_affinity_config
            if config is None or not config.client_ip or config.client_ip.get("timeoutSeconds") is None:
                spec.session_affinity_config = models.SessionAffinityConfig(client_ip={"timeoutSeconds": 10800})
        if spec.cluster_ip and not spec.cluster_ips:
            spec.cluster_ips = [spec.cluster_ip]
        elif spec.cluster_ips and not spec.cluster_ip:
            spec.cluster_ip = spec.cluster_ips[0]
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
        seen_node_ports: set[tuple[int, str]] = set()
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
                if (node_port, port.get("protocol")) in seen_node_ports:
                    causes.append(v.duplicate(f"{p}.nodePort", node_port))
                seen_node_ports.add((node_port, port.get("protocol")))
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
        ips = spec.get("clusterIPs") or []
        if ip and ips and ips[0] != ip:
            causes.append(v.invalid("spec.clusterIPs[0]", ips[0], "must match `clusterIP` when set"))
        if len(ips) > 1:
            causes.append(v.invalid("spec.clusterIPs", ips, "only one IP family is supported"))
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

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """Keep allocated values a client left out, drop those the new type does not use (Kubernetes'
        patchAllocatedValues and dropTypeDependentFields)."""
        super().prepare_for_update(new, old)
        spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
        kind, old_kind = spec.get("type"), old_spec.get("type")
        if kind != "ExternalName" and old_kind != "ExternalName" and not spec.get("clusterIP") \
                and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = old_spec.get("clusterIPs") or [old_spec["clusterIP"]]
        old_node_ports = {(p.get("port"), p.get("protocol")): p.get("nodePort") for p in old_spec.get("ports") or []}
        if kind in NODE_PORT_TYPES and old_kind in NODE_PORT_TYPES:
            for port in spec.get("ports") or []:
                if not port.get("nodePort") and old_node_ports.get((port.get("port"), port.get("protocol"))):
                    port["nodePort"] = old_node_ports[(port.get("port"), port.get("protocol"))]
        if kind not in NODE_PORT_TYPES and old_kind in NODE_PORT_TYPES:
            for port in spec.get("ports") or []:
                if port.get("nodePort") and port["nodePort"] == old_node_ports.get((port.get("port"),
                                                                                    port.get("protocol"))):
                    del port["nodePort"]
        if kind not in NODE_PORT_TYPES and old_kind in NODE_PORT_TYPES \
                and spec.get("externalTrafficPolicy") == old_spec.get("externalTrafficPolicy"):
            spec.pop("externalTrafficPolicy", None)
        if kind == "ExternalName" and old_kind != "ExternalName":
            for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                if spec.get(field) == old_spec.get(field):
                    spec.pop(field, None)

    # ------------------------------------------------------------------ allocation hooks (see apiserver.rest)

    ip_range: ClassVar[IPRange] = parse_service_cidr(DEFAULT_SERVICE_CIDR)
    node_port_range: ClassVar[PortRange] = parse_port_range(DEFAULT_NODE_PORT_RANGE)

    def allocators(self, storage: EtcdStorage) -> tuple[Allocator, Allocator]:
        return Allocator(storage, "ipaddresses", self.ip_range), Allocator(storage, "servicenodeports",
                                                                           self.node_port_range)

    async def before_create(self, obj: Obj, storage: EtcdStorage) -> None:
        """Allocate the ClusterIP and NodePorts before the Service is stored; 422 if an explicit one is taken."""
        await self._allocate(obj, None, storage)

    async def create_failed(self, obj: Obj, storage: EtcdStorage) -> None:
        await self.after_delete(obj, storage)

    async def before_update(self, new: Obj, old: Obj, storage: EtcdStorage) -> None:
        await self._allocate(new, old, storage)

    async def after_update(self, new: Obj, old: Obj, storage: EtcdStorage) -> None:
        """Release what the stored object held before and no longer uses (e.g. NodePort -> ClusterIP)."""
        ips, ports = self.allocators(storage)
        uid = new["metadata"].get("uid", "")
        new_ip, new_ports = _used(new)
        old_ip, old_ports = _used(old)
        if old_ip and old_ip != new_ip:
            await ips.release(old_ip, uid)
        for port in old_ports - new_ports:
            await ports.release(port, uid)

    async def after_delete(self, obj: Obj, storage: EtcdStorage) -> None:
        uid = obj["metadata"].get("uid", "")
        for allocator in self.allocators(storage):
            try:
                await allocator.release_all(uid)
            except errors.ApiError as exc:  # the repair loop frees it later
                log.warning("could not release %s of service %s: %s", allocator.resource,
                            obj["metadata"].get("name"), exc)

    async def _allocate(self, obj: Obj, old: Obj | None, storage: EtcdStorage) -> None:
        ips, ports = self.allocators(storage)
        meta, spec = obj["metadata"], obj.setdefault("spec", {})
        owner = Owner(meta.get("namespace", ""), meta["name"], meta.get("uid", ""))
        old_ip, old_ports = _used(old) if old is not None else (None, set())
        fresh: list[tuple[Allocator, str | int]] = []
        causes: Causes = []
        try:
            kind = spec.get("type") or "ClusterIP"
            ip = spec.get("clusterIP")
            if kind == "ExternalName" or ip == "None":
                pass
            elif ip:
                if ip != old_ip:
                    try:
                        await ips.allocate(ip, owner)
                        fresh.append((ips, ip))
                    except AllocationError as exc:
                        causes.append(v.invalid("spec.clusterIPs", ip, f"failed to allocate IP {ip}: {exc.detail}"))
            else:
                try:
                    ip = str(await ips.allocate_next(owner))
                except AllocationError as exc:
                    raise errors.InternalError(f"failed to allocate a serviceIP: {exc.detail}") from None
                fresh.append((ips, ip))
                spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
            wants_node_ports = kind == "NodePort" or (
                kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False)
            if wants_node_ports:
                await self._allocate_node_ports(spec, owner, ports, old_ports, fresh, causes)
        except BaseException:
            await _release(fresh, owner.uid)
            raise
        if causes:
            await _release(fresh, owner.uid)
            self.check(causes, obj)

    @staticmethod
    async def _allocate_node_ports(spec: Obj, owner: Owner, ports: Allocator, held: set[int],
                                   fresh: list[tuple[Allocator, str | int]], causes: Causes) -> None:
        service_ports = spec.get("ports") or []
        by_number: dict[int, int] = {}  # service port -> node port: TCP and UDP of one port share a node port
        for i, port in enumerate(service_ports):
            node_port = port.get("nodePort")
            if not node_port:
                continue
            by_number.setdefault(port.get("port"), node_port)
            if node_port in held or any(value == node_port for _, value in fresh):
                continue
            try:
                await ports.allocate(node_port, owner)
                fresh.append((ports, node_port))
            except AllocationError as exc:
                causes.append(v.invalid(f"spec.ports[{i}].nodePort", node_port, exc.detail))
        for port in service_ports:
            if port.get("nodePort"):
                continue
            shared = by_number.get(port.get("port"))
            if shared is not None and not any(p is not port and p.get("nodePort") == shared
                                              and p.get("protocol") == port.get("protocol") for p in service_ports):
                port["nodePort"] = shared
                continue
            try:
                node_port = int(await ports.allocate_next(owner))
            except AllocationError as exc:
                raise errors.InternalError(f"failed to allocate a nodePort: {exc.detail}") from None
            fresh.append((ports, node_port))
            port["nodePort"] = node_port
            by_number.setdefault(port.get("port"), node_port)


def _used(obj: Obj | None) -> tuple[str | None, set[int]]:
    """The ClusterIP (None if none) and node ports a stored Service holds."""
    spec = (obj or {}).get("spec") or {}
    ip = spec.get("clusterIP")
    ip = ip if ip and ip != "None" and spec.get("type") != "ExternalName" else None
    return ip, {p["nodePort"] for p in spec.get("ports") or [] if p.get("nodePort")}


async def _release(fresh: list[tuple[Allocator, str | int]], uid: str) -> None:
    for allocator, value in fresh:
        try:
            await allocator.release(value, uid)
        except errors.ApiError as exc:
            log.warning("could not release %s %s: %s", allocator.resource, value, exc)


def configure(cluster_ip_range: str, node_port_range: str) -> None:
    """Set the ranges Services allocate from (the apiserver's --service-cluster-ip-range and
    --service-node-port-range); ValueError if one is malformed."""
    ServiceStrategy.ip_range = parse_service_cidr(cluster_ip_range)
    ServiceStrategy.node_port_range = parse_port_range(node_port_range)


async def repair(storage: EtcdStorage, min_age: float = 30.0) -> tuple[int, int]:
    """Release records no stored Service uses (older than `min_age` s, so in-flight writes keep theirs)
    and record values stored Services use without a record. Returns (released, recorded)."""
    ips, ports = ServiceStrategy(SERVICE_RESOURCE).allocators(storage)
    services: list[Obj] = []
    start: bytes | None = None
    while True:
        page = await storage.list(storage.prefix("services"), limit=500, start=start)
        services += page.items
        if page.next_key is None:
            break
        start = page.next_key

    def held_by(svc: Obj | None, allocator: Allocator) -> set[str | int]:
        ip, node_ports = _used(svc)
        return ({ip} if ip else set()) if allocator is ips else set(node_ports)

    by_uid = {s["metadata"].get("uid"): s for s in services}
    now = datetime.now(UTC)
    released = recorded = 0
    for allocator in (ips, ports):
        records = await allocator.records()
        for value, record in records.items():
            owner = allocator.owner_of(record)
            if value in held_by(by_uid.get(owner.uid), allocator):
                continue
            try:
                created = datetime.fromisoformat(record["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
                age = (now - created).total_seconds()
            except (KeyError, AttributeError, ValueError):
                age = min_age
            if age >= min_age and await allocator.release(value, owner.uid):
                log.info("released leaked %s %s of service %s/%s", allocator.resource, value, owner.namespace,
                         owner.name)
                released += 1
        for svc in services:
            meta = svc["metadata"]
            for value in held_by(svc, allocator):
                if value in records or not allocator.range.contains(value):  # type: ignore[arg-type]
                    continue
                try:
                    await allocator.allocate(value, Owner(meta.get("namespace", ""), meta["name"], meta.get("uid", "")))
                    recorded += 1
                except AllocationError:
                    log.warning("service %s/%s holds %s %s, which another service has", meta.get("namespace"),
                                meta["name"], allocator.range.kind, value)
    return released, recorded


async def repair_loop(storage: EtcdStorage, interval: float = 60.0) -> None:
    """`repair` now and every `interval` seconds, until cancelled; errors are logged, never raised."""
    while True:
        try:
            await repair(storage)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("service allocation repair failed: %s", exc)
        await asyncio.sleep(interval)


class EndpointsStrategy(Strategy):
    model: ClassVar[type[KubeModel] | None] = models.Endpoints

    def default(self, ep: models.Endpoints) -> None:
        """SetDefaults_EndpointPort: a port's protocol is TCP unless it says otherwise."""
        for subset in ep.subsets:
            for port in subset.ports:
                port.protocol = port.protocol or "TCP"

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
