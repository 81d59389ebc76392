"""The kubelet's Node: registration, the Lease heartbeat, and node status updates.

Kubernetes' split is kept: a cheap Lease renewal (`kube-node-lease/<node>`) every `heartbeat_interval`
says "alive" (the node controller watches it), while the heavier Node status is written only every
`status_interval` or when something in it changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
import platform
import shutil
import socket
from typing import Any

from kube import errors, quantity, timeutil
from kube.client import ApiClient
from kube.resources import LEASES, NODES

__all__ = ["KUBELET_VERSION", "LEASE_NAMESPACE", "NodeAgent", "detect_node_ip", "machine_facts"]

log = logging.getLogger("kubelet.node")

KUBELET_VERSION = "v1.36.0-kubelite"
LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION = 40

Obj = dict[str, Any]


def detect_node_ip() -> str:
    """The host's primary IPv4 address: the source address of its default route (a UDP `connect` sends
    nothing), else 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.254.254.254", 9))
            ip = s.getsockname()[0]
        except OSError:
            return "127.0.0.1"
    return ip if ip and not ip.startswith("0.") else "127.0.0.1"


def _memory_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _os_image() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def _arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(machine, machine)


def machine_facts(max_pods: int, storage_path: str = "/") -> tuple[Obj, Obj]:
    """(capacity, nodeInfo without the runtime version) of this machine."""
    capacity = {
        "cpu": str(os.cpu_count() or 1),
        "memory": f"{_memory_bytes() // 1024}Ki",
        "pods": str(max_pods),
    }
    with contextlib.suppress(OSError):
        capacity["ephemeral-storage"] = f"{shutil.disk_usage(storage_path).total // 1024}Ki"
    machine_id = ""
    try:
        with open("/etc/machine-id") as f:
            machine_id = f.read().strip()
    except OSError:
        pass
    info = {
        "machineID": machine_id,
        "kernelVersion": platform.release(),
        "osImage": _os_image(),
        "kubeletVersion": KUBELET_VERSION,
        "operatingSystem": "linux",
        "architecture": _arch(),
    }
    return capacity, info


def _condition(ctype: str, ok: bool, reason: str, message: str, old: list[Obj], now: str) -> Obj:
    status = "True" if ok else "False"
    previous = next((c for c in old if c.get("type") == ctype), None)
    since = previous.get("lastTransitionTime") if previous and previous.get("status") == status else None
    return {"type": ctype, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": now, "lastTransitionTime": since or now}


def _without_heartbeats(status: Obj) -> Obj:
    trimmed = copy.deepcopy(status)
    for cond in trimmed.get("conditions") or []:
        cond.pop("lastHeartbeatTime", None)
    return trimmed


class NodeAgent:
    """Registers the Node and keeps it (and its Lease) fresh."""

    def __init__(
        self,
        client: ApiClient,
        node_name: str,
        *,
        node_ip: str,
        runtime_version: str,
        max_pods: int = 110,
        heartbeat_interval: float = 10.0,
        status_interval: float = 60.0,
        storage_path: str = "/",
        kubelet_port: int = 10250,
    ) -> None:
        self.client = client
        self.name = node_name
        self.node_ip = node_ip
        self.runtime_version = runtime_version
        self.max_pods = max_pods
        self.heartbeat_interval = heartbeat_interval
        self.status_interval = status_interval
        self.storage_path = storage_path
        self.kubelet_port = kubelet_port
        self.uid: str | None = None
        self.registered = asyncio.Event()
        self._lease: Obj | None = None
        self._posted: Obj | None = None  # the last status written, without heartbeat times
        self._posted_at = 0.0

    # ------------------------------------------------------------------ the Node object

    def desired_status(self, old: Obj | None = None) -> Obj:
        capacity, info = machine_facts(self.max_pods, self.storage_path)
        info["containerRuntimeVersion"] = f"docker://{self.runtime_version}"
        now = timeutil.now()
        old_conditions = (old or {}).get("conditions") or []
        memory = quantity.memory_bytes(capacity["memory"])
        allocatable = {**capacity, "memory": f"{max(memory - 100 * 2**20, 0) // 1024}Ki"}
        return {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": [
                _condition("MemoryPressure", False, "KubeletHasSufficientMemory",
                           "kubelet has sufficient memory available", old_conditions, now),
                _condition("DiskPressure", False, "KubeletHasNoDiskPressure",
                           "kubelet has no disk pressure", old_conditions, now),
                _condition("PIDPressure", False, "KubeletHasSufficientPID",
                           "kubelet has sufficient PID available", old_conditions, now),
                _condition("Ready", True, "KubeletReady", "kubelet is posting ready status", old_conditions, now),
            ],
            "addresses": [{"type": "InternalIP", "address": self.node_ip},
                          {"type": "Hostname", "address": self.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
            "nodeInfo": info,
        }

    def labels(self) -> dict[str, str]:
        return {
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": _arch(),
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": _arch(),
        }

    async def register(self) -> None:
        """Create the Node, or — after a restart, or when someone made it first — update its labels and status."""
        body = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.name, "labels": self.labels()},
                "spec": {}, "status": self.desired_status()}
        try:
            node = await self.client.create(NODES, body)
            status = body["status"]
            log.info("registered node %s (%s)", self.name, self.node_ip)
        except errors.AlreadyExists:
            current = await self.client.get(NODES, self.name)
            missing = {k: v for k, v in self.labels().items()
                       if (current["metadata"].get("labels") or {}).get(k) != v}
            if missing:
                await self.client.patch(NODES, self.name, {"metadata": {"labels": missing}})
            status = self.desired_status(current.get("status"))
            node = await self.client.patch(NODES, self.name, {"status": status}, subresource="status")
            log.info("node %s already registered; updated its status", self.name)
        self.uid = node["metadata"]["uid"]
        self._remember(status)
        self.registered.set()

    def _remember(self, status: Obj) -> None:
        self._posted = _without_heartbeats(status)
        self._posted_at = asyncio.get_running_loop().time()

    async def update_status(self, force: bool = False) -> bool:
        """Write the node status if it changed or `status_interval` passed; whether it was written."""
        try:
            current = await self.client.get(NODES, self.name)
        except errors.NotFound:
            log.warning("node %s was deleted; registering it again", self.name)
            self.registered.clear()
            await self.register()
            return True
        self.uid = current["metadata"]["uid"]
        desired = self.desired_status(current.get("status"))
        due = asyncio.get_running_loop().time() - self._posted_at >= self.status_interval
        if not (force or due or _without_heartbeats(desired) != self._posted):
            return False
        await self.client.patch(NODES, self.name, {"status": desired}, subresource="status")
        self._remember(desired)
        return True

    # ------------------------------------------------------------------ the Lease

    def _lease_body(self) -> Obj:
        now = timeutil.now_micro()
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": LEASE_NAMESPACE,
                "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": self.uid}],
            },
            "spec": {"holderIdentity": self.name, "leaseDurationSeconds": LEASE_DURATION,
                     "acquireTime": now, "renewTime": now},
        }

    async def renew_lease(self) -> None:
        """Renew (or create) the node's Lease; a stale copy is re-read once on Conflict."""
        for _ in range(2):
            if self._lease is None:
                try:
                    self._lease = await self.client.get(LEASES, self.name, LEASE_NAMESPACE)
                except errors.NotFound:
                    self._lease = await self.client.create(LEASES, self._lease_body(), LEASE_NAMESPACE)
                    return
            lease = copy.deepcopy(self._lease)
            spec = lease.setdefault("spec", {})
            spec.update(holderIdentity=self.name, leaseDurationSeconds=LEASE_DURATION,
                        renewTime=timeutil.now_micro())
            owner = {"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": self.uid}
            if lease["metadata"].get("ownerReferences") != [owner]:
                lease["metadata"]["ownerReferences"] = [owner]
            try:
                self._lease = await self.client.replace(LEASES, lease)
                return
            except (errors.Conflict, errors.NotFound):
                self._lease = None
        raise errors.Conflict(f"could not renew lease {LEASE_NAMESPACE}/{self.name}")

    # ------------------------------------------------------------------ loops

    async def run(self) -> None:
        """Register (retrying until the apiserver answers), then heartbeat forever."""
        delay = 0.5
        while not self.registered.is_set():
            try:
                await self.register()
            except errors.ApiError as exc:
                log.warning("registering node %s failed: %s; retrying in %.1fs", self.name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        while True:
            try:
                await self.renew_lease()
            except errors.ApiError as exc:
                log.warning("renewing lease of %s failed: %s", self.name, exc)
            try:
                await self.update_status()
            except errors.ApiError as exc:
                log.warning("updating status of node %s failed: %s", self.name, exc)
            await asyncio.sleep(self.heartbeat_interval)
