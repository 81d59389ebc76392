"""Endpoints controller: each Service with a selector gets an Endpoints object listing its pods.

Ready pods go to `addresses`, the others (running but not ready, unless the Service publishes not-ready
addresses) to `notReadyAddresses`. A named `targetPort` is resolved per pod from its container ports, so
pods that name the port differently land in different subsets, as in Kubernetes. Services without a
selector are left alone: their Endpoints belong to the user.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

from controllers import podutil
from controllers.base import Controller
from controllers.context import ControllerContext
from kube import errors, labels
from kube.informer import Handler
from kube.resources import ENDPOINTS, PODS, SERVICES, ResourceType

__all__ = ["EndpointsController", "build_subsets"]

Obj = dict[str, Any]

MANAGED_BY_LABEL = "endpoints.kubernetes.io/managed-by"
MANAGED_BY = "endpoint-controller"


def _resolve_port(pod: Obj, target: int | str | None, protocol: str) -> int | None:
    if isinstance(target, int):
        return target
    for container in pod["spec"].get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return int(port["containerPort"])
    return None


def _address(pod: Obj, service_name: str) -> Obj:
    meta, spec = pod["metadata"], pod["spec"]
    address: Obj = {"ip": pod["status"]["podIP"],
                    "targetRef": {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"],
                                  "uid": meta["uid"]}}
    if spec.get("nodeName"):
        address["nodeName"] = spec["nodeName"]
    if spec.get("hostname") and spec.get("subdomain") == service_name:
        address["hostname"] = spec["hostname"]
    return address


def build_subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    """The Endpoints subsets for `service` over `pods`: grouped by resolved port set, sorted for stability."""
    spec = service.get("spec") or {}
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[tuple, dict[str, list[Obj]]] = {}
    for pod in pods:
        if not (pod.get("status") or {}).get("podIP") or not podutil.is_active(pod):
            continue
        ports = []
        for sp in spec.get("ports") or []:
            protocol = sp.get("protocol", "TCP")
            resolved = _resolve_port(pod, sp.get("targetPort", sp["port"]), protocol)
            if resolved is not None:
                entry = {"port": resolved, "protocol": protocol}
                if sp.get("name"):
                    entry["name"] = sp["name"]
                if sp.get("appProtocol"):
                    entry["appProtocol"] = sp["appProtocol"]
                ports.append(entry)
        if spec.get("ports") and not ports:
            continue
        key = tuple(sorted((p.get("name", ""), p["port"], p["protocol"]) for p in ports))
        group = groups.setdefault(key, {"ports": ports, "addresses": [], "notReadyAddresses": []})
        ready = publish_not_ready or podutil.is_ready(pod)
        group["addresses" if ready else "notReadyAddresses"].append(_address(pod, service["metadata"]["name"]))
    subsets = []
    for _, group in sorted(groups.items()):
        subset: Obj = {}
        for field in ("addresses", "notReadyAddresses"):
            if group[field]:
                subset[field] = sorted(group[field], key=lambda a: (a["ip"], a["targetRef"]["name"]))
        if group["ports"]:
            subset["ports"] = sorted(group["ports"], key=lambda p: (p.get("name", ""), p["port"]))
        subsets.append(subset)
    return subsets


class EndpointsController(Controller):
    name: ClassVar[str] = "endpoints"
    primary: ClassVar[ResourceType | None] = SERVICES
    watches: ClassVar[tuple[ResourceType, ...]] = (PODS, ENDPOINTS)
    workers: ClassVar[int] = 4

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.pods = ctx.informers.informer(PODS)
        self.pods.add_indexer("namespace", lambda p: [p["metadata"].get("namespace", "")])
        self.endpoints = ctx.informers.informer(ENDPOINTS)
        self.pods.add_handler(Handler(on_add=self._pod_changed, on_delete=self._pod_changed,
                                      on_update=lambda old, new: (self._pod_changed(old), self._pod_changed(new))))
        # An Endpoints object changed or deleted behind our back is put right.
        self.endpoints.add_handler(Handler(on_delete=self.enqueue, on_update=lambda old, new: self.enqueue(new)))

    def _pod_changed(self, pod: Obj) -> None:
        ns = pod["metadata"].get("namespace")
        pod_labels = pod["metadata"].get("labels") or {}
        for svc in self.informer.list():
            selector = (svc.get("spec") or {}).get("selector")
            if svc["metadata"].get("namespace") == ns and selector and all(
                    pod_labels.get(k) == v for k, v in selector.items()):
                self.enqueue(svc)

    async def sync(self, key: str) -> None:
        namespace, name = key.split("/", 1)
        service = self.informer.get(key)
        if service is None:
            existing = self.endpoints.get(key)
            if existing is not None and self._managed(existing):
                with contextlib.suppress(errors.NotFound):
                    await self.client.delete(ENDPOINTS, name, namespace)
            return
        selector = (service.get("spec") or {}).get("selector")
        if not selector or service["spec"].get("type") == "ExternalName":
            return
        match = labels.Selector(tuple(labels.Requirement(k, "Equals", (v,)) for k, v in selector.items()))
        pods = [p for p in self.pods.by_index("namespace", namespace) if match.matches(p["metadata"].get("labels"))]
        subsets = build_subsets(service, pods)
        desired_labels = {**(service["metadata"].get("labels") or {}), MANAGED_BY_LABEL: MANAGED_BY}
        existing = self.endpoints.get(key)
        if existing is None:
            body = {"apiVersion": "v1", "kind": "Endpoints",
                    "metadata": {"name": name, "namespace": namespace, "labels": desired_labels}}
            if subsets:
                body["subsets"] = subsets
            try:
                await self.client.create(ENDPOINTS, body, namespace)
            except errors.AlreadyExists:
                self.queue.add_after(key, 0.5)  # our cache is behind: look again
            return
        if (existing.get("subsets") or []) == subsets and (existing["metadata"].get("labels") or {}) == desired_labels:
            return
        updated = {**existing, "metadata": {**existing["metadata"], "labels": desired_labels}, "subsets": subsets}
        if not subsets:
            updated.pop("subsets")
        await self.client.replace(ENDPOINTS, updated)

    @staticmethod
    def _managed(endpoints: Obj) -> bool:
        return (endpoints["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY

