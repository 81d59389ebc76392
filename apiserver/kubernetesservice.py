"""The `kubernetes` Service of the `default` namespace: how pods find the apiserver (kube-apiserver's
bootstrap controller). Its ClusterIP is the first of the service range, its port 443 (`https`), and its
Endpoints list the address and port every apiserver advertises; each apiserver adds itself at start, keeps
itself there, and leaves on a clean stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from typing import TYPE_CHECKING, Any

from kube import errors
from kube.resources import ENDPOINTS, SERVICES

if TYPE_CHECKING:
    from apiserver.rest import Registry

__all__ = ["KubernetesService"]

log = logging.getLogger("apiserver.kubernetesservice")

NAME, NAMESPACE, PORT_NAME = "kubernetes", "default", "https"
RECONCILE_SECONDS = 10.0

Obj = dict[str, Any]


class KubernetesService:
    def __init__(self, registry: Registry, service_cidr: str, address: str, port: int) -> None:
        self.registry = registry
        self.cluster_ip = str(next(ipaddress.ip_network(service_cidr).hosts()))
        self.address = address
        self.port = port
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.reconcile()
        self._task = asyncio.create_task(self._loop(), name="kubernetes-service")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(errors.ApiError):
            await self._endpoints(remove=True)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(RECONCILE_SECONDS)
            try:
                await self.reconcile()
            except errors.ApiError as exc:  # etcd away for a moment: the next round repairs it
                log.warning("keeping the kubernetes Service failed: %s", exc)

    async def reconcile(self) -> None:
        try:
            await self.registry.get(SERVICES, NAMESPACE, NAME)
        except errors.NotFound:
            await self._create_service()
        await self._endpoints()

    async def _create_service(self) -> None:
        service: Obj = {"metadata": {"name": NAME, "namespace": NAMESPACE,
                                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
                        "spec": {"type": "ClusterIP", "sessionAffinity": "None", "clusterIP": self.cluster_ip,
                                 "ports": [{"name": PORT_NAME, "port": 443, "protocol": "TCP",
                                            "targetPort": self.port}]}}
        try:
            await self.registry.create(SERVICES, NAMESPACE, service)
        except errors.AlreadyExists:
            return
        except errors.Invalid:  # the first address is taken by another Service: take any free one
            del service["spec"]["clusterIP"]
            with contextlib.suppress(errors.AlreadyExists):
                await self.registry.create(SERVICES, NAMESPACE, service)

    async def _endpoints(self, remove: bool = False) -> None:
        mine = {"ip": self.address}

        def change(current: Obj) -> Obj:
            subsets = current.get("subsets") or []
            addresses = [a for s in subsets if _has_port(s, self.port) for a in s.get("addresses") or []]
            others = [a for a in addresses if a.get("ip") != self.address]
            wanted = others if remove else [*others, mine]
            ports = [{"name": PORT_NAME, "port": self.port, "protocol": "TCP"}]
            return {**current, "subsets": [{"addresses": wanted, "ports": ports}] if wanted else []}

        try:
            current = await self.registry.get(ENDPOINTS, NAMESPACE, NAME)
        except errors.NotFound:
            if remove:
                return
            with contextlib.suppress(errors.AlreadyExists):
                meta = {"name": NAME, "namespace": NAMESPACE,
                        "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}}
                await self.registry.create(ENDPOINTS, NAMESPACE, change({"metadata": meta}))
            return
        if change(current).get("subsets") != current.get("subsets"):
            await self.registry.update_with(ENDPOINTS, NAMESPACE, NAME, change)


def _has_port(subset: Obj, port: int) -> bool:
    return any(p.get("port") == port for p in subset.get("ports") or [])
