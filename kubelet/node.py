"""The kubelet's Node: registration, the Lease heartbeat, and node status updates.

Kubernetes' split is kept: a cheap Lease renewal (`kube-node-lease/<node>`) every `heartbeat_interval`
says "alive" (the node controller watches it), while the heavier Node status is written only every
`status_interval` or when something in it changed.

The pressure conditions come from the machine's real figures against the hard eviction thresholds
(kubelet's defaults: memory.available<100Mi, nodefs.available<10%; here also pid.available<5%), and
allocatable is capacity minus --system-reserved, --kube-reserved and the hard memory threshold, as the
kubelet computes it.
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

from kube import conditions as kconditions
from kube import errors, quantity, timeutil
from kube.client import ApiClient
from kube.resources import LEASES, NODES

__all__ = [
    "DEFAULT_EVICTION_HARD", "KUBELET_VERSION", "LEASE_NAMESPACE", "NodeAgent", "allocatable", "detect_node_ip",
    "machine_facts", "node_stats", "parse_resource_list", "parse_thresholds", "pressure",
]

log = logging.getLogger("kubelet.node")

KUBELET_VERSION = "v1.36.0-kubelite"
LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION = 40

Obj = dict[str, Any]

DEFAULT_EVICTION_HARD = "memory.available<100Mi,nodefs.available<10%,pid.available<5%"
_SIGNALS = ("memory.available", "nodefs.available", "pid.available")


def parse_resource_list(text: str | None) -> dict[str, str]:
    """`cpu=100m,memory=256Mi` (the --system-reserved / --kube-reserved syntax) as a resource list."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not value.strip():
            raise ValueError(f"expected resource=quantity, got {part!r}")
        quantity.parse(value.strip())  # reject what is not a quantity now, not at the first status write
        out[name.strip()] = value.strip()
    return out


def parse_thresholds(text: str | None) -> dict[str, tuple[float, bool]]:
    """`memory.available<100Mi,nodefs.available<10%` -> signal -> (amount, is a percentage)."""
    out: dict[str, tuple[float, bool]] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        signal, sep, value = part.partition("<")
        signal, value = signal.strip(), value.strip()
        if not sep or signal not in _SIGNALS:
            raise ValueError(f"expected one of {', '.join(_SIGNALS)} followed by <quantity, got {part!r}")
        if value.endswith("%"):
            out[signal] = (float(value[:-1]), True)
        else:
            out[signal] = (float(quantity.parse(value)), False)
    return out


def _meminfo() -> dict[str, int]:
    out = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                name, _, rest = line.partition(":")
                fields = rest.split()
                if fields and fields[0].isdigit():
                    out[name] = int(fields[0]) * 1024
    except OSError:
        pass
    return out


def node_stats(storage_path: str = "/") -> dict[str, tuple[float, float]]:
    """signal -> (available, capacity) of this machine: memory (MemAvailable), the filesystem of
    `storage_path`, and process IDs (pid_max minus the processes running)."""
    stats: dict[str, tuple[float, float]] = {}
    mem = _meminfo()
    if mem.get("MemTotal"):
        stats["memory.available"] = (float(mem.get("MemAvailable", mem["MemTotal"])), float(mem["MemTotal"]))
    with contextlib.suppress(OSError):
        fs = os.statvfs(storage_path)
        stats["nodefs.available"] = (float(fs.f_bavail * fs.f_frsize), float(fs.f_blocks * fs.f_frsize))
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            pid_max = int(f.read().strip())
        running = sum(1 for name in os.listdir("/proc") if name.isdigit())
        stats["pid.available"] = (float(pid_max - running), float(pid_max))
    except (OSError, ValueError):
        pass
    return stats


def pressure(stats: dict[str, tuple[float, float]], thresholds: dict[str, tuple[float, bool]]) -> dict[str, bool]:
    """signal -> whether it is below its threshold (under pressure)."""
    out = {}
    for signal, (amount, percent) in thresholds.items():
        if signal not in stats:
            continue
        available, capacity = stats[signal]
        limit = capacity * amount / 100 if percent else amount
        out[signal] = available < limit
    return out


def allocatable(capacity: dict[str, str], reserved: list[dict[str, str]],
                thresholds: dict[str, tuple[float, bool]]) -> dict[str, str]:
    """capacity - system reserved - kube reserved - the hard eviction threshold (memory), never below 0."""
    out = dict(capacity)
    cpu = quantity.cpu_millis(capacity["cpu"]) - sum(quantity.cpu_millis(r["cpu"]) for r in reserved if "cpu" in r)
    if any("cpu" in r for r in reserved):
        out["cpu"] = f"{max(cpu, 0)}m"
    memory = quantity.memory_bytes(capacity["memory"])
    memory -= sum(quantity.memory_bytes(r["memory"]) for r in reserved if "memory" in r)
    amount, percent = thresholds.get("memory.available", (0.0, False))
    memory -= int(quantity.memory_bytes(capacity["memory"]) * amount / 100) if percent else int(amount)
    out["memory"] = f"{max(memory, 0) // 1024}Ki"
    if "ephemeral-storage" in capacity and any("ephemeral-storage" in r for r in reserved):
        storage = quantity.memory_bytes(capacity["ephemeral-storage"])
        storage -= sum(quantity.memory_bytes(r["ephemeral-storage"]) for r in reserved if "ephemeral-storage" in r)
        out["ephemeral-storage"] = f"{max(storage, 0) // 1024}Ki"
    if any("pods" in r for r in reserved):
        out["pods"] = str(max(int(capacity["pods"]) - sum(int(r["pods"]) for r in reserved if "pods" in r), 0))
    return out


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
    info = {
        "machineID": _read_first("/etc/machine-id"),
        "systemUUID": _read_first("/sys/class/dmi/id/product_uuid", "/etc/machine-id"),
        "bootID": _read_first("/proc/sys/kernel/random/boot_id"),
        "kernelVersion": platform.release(),
        "osImage": _os_image(),
        "kubeletVersion": KUBELET_VERSION,
        "operatingSystem": "linux",
        "architecture": _arch(),
    }
    return capacity, info


def _read_first(*paths: str) -> str:
    """The stripped content of the first readable file (machine identity files), or ""."""
    for path in paths:
        with contextlib.suppress(OSError), open(path) as f:
            return f.read().strip()
    return ""


def _condition(ctype: str, ok: bool, reason: str, message: str, old: list[Obj], now: str) -> Obj:
    status = "True" if ok else "False"
    return {"type": ctype, "status": status, "reason": reason, "message": message, "lastHeartbeatTime": now,
            "lastTransitionTime": kconditions.transition_time(kconditions.find(old, ctype), status, now)}


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
        system_reserved: dict[str, str] | None = None,
        kube_reserved: dict[str, str] | None = None,
        eviction_hard: str = DEFAULT_EVICTION_HARD,
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
        self.reserved = [r for r in (system_reserved, kube_reserved) if r]
        self.thresholds = parse_thresholds(eviction_hard)
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
        under = pressure(node_stats(self.storage_path), self.thresholds)
        memory, disk, pids = (under.get(s, False) for s in _SIGNALS)
        return {
            "capacity": capacity,
            "allocatable": self.allocatable(capacity),
            "conditions": [
                _condition("MemoryPressure", memory, *(
                    ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available") if memory else
                    ("KubeletHasSufficientMemory", "kubelet has sufficient memory available")), old_conditions, now),
                _condition("DiskPressure", disk, *(
                    ("KubeletHasDiskPressure", "kubelet has disk pressure") if disk else
                    ("KubeletHasNoDiskPressure", "kubelet has no disk pressure")), old_conditions, now),
                _condition("PIDPressure", pids, *(
                    ("KubeletHasInsufficientPID", "kubelet has insufficient PID available") if pids else
                    ("KubeletHasSufficientPID", "kubelet has sufficient PID available")), old_conditions, now),
                _condition("Ready", True, "KubeletReady", "kubelet is posting ready status", old_conditions, now),
            ],
            "addresses": [{"type": "InternalIP", "address": self.node_ip},
                          {"type": "Hostname", "address": self.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
            "nodeInfo": info,
        }

    def allocatable(self, capacity: dict[str, str] | None = None) -> dict[str, str]:
        if capacity is None:
            capacity, _ = machine_facts(self.max_pods, self.storage_path)
        return allocatable(capacity, self.reserved, self.thresholds)

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
