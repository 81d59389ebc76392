"""The kubelet: one Node agent and the pod workers, sharing an API client and a Docker runtime.

Both run in one task group, so a crashed loop takes the process down instead of leaving half a kubelet.
Stopping cancels them and leaves every container running: pods outlive a kubelet restart, as on
Kubernetes, and the next kubelet adopts them through their labels.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from pathlib import Path

from kube.client import ApiClient
from kube.events import EventRecorder
from kubelet.auth import KubeletAuth
from kubelet.launch import DnsSettings
from kubelet.node import DEFAULT_EVICTION_HARD, NodeAgent, allocatable, machine_facts, parse_thresholds
from kubelet.pods import PodWorkers
from kubelet.runtime import DockerRuntime, RuntimeFailure
from kubelet.server import KubeletServer

__all__ = ["Kubelet"]

log = logging.getLogger("kubelet")


class Kubelet:
    def __init__(
        self,
        client: ApiClient,
        runtime: DockerRuntime,
        *,
        node_name: str,
        node_ip: str,
        max_pods: int = 110,
        heartbeat_interval: float = 10.0,
        node_status_interval: float = 60.0,
        sync_interval: float = 5.0,
        backoff_initial: float = 10.0,
        backoff_max: float = 300.0,
        address: str | None = None,
        port: int = 10250,
        token: str | None = None,
        root_dir: str = "/var/lib/kubelite/kubelet",
        dns_settings: DnsSettings | None = None,
        system_reserved: dict[str, str] | None = None,
        kube_reserved: dict[str, str] | None = None,
        eviction_hard: str = DEFAULT_EVICTION_HARD,
        auth: KubeletAuth | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.client = client
        self.runtime = runtime
        self.node_name = node_name
        self.node_ip = node_ip
        self.max_pods = max_pods
        self.heartbeat_interval = heartbeat_interval
        self.node_status_interval = node_status_interval
        # Per node name: several kubelets on one host keep their pods' directories apart.
        self.root = Path(root_dir) / node_name
        self.root.mkdir(parents=True, exist_ok=True)
        self.system_reserved = system_reserved
        self.kube_reserved = kube_reserved
        self.eviction_hard = eviction_hard
        reserved = [r for r in (system_reserved, kube_reserved) if r]
        capacity, _ = machine_facts(max_pods, str(self.root))
        self.recorder = EventRecorder(client, "kubelet", node_name)
        self.pods = PodWorkers(
            client, runtime, self.recorder, node_name=node_name, node_ip=node_ip, sync_interval=sync_interval,
            backoff_initial=backoff_initial, backoff_max=backoff_max, root_dir=self.root, dns_settings=dns_settings,
            allocatable=allocatable(capacity, reserved, parse_thresholds(eviction_hard)),
        )
        self.server = KubeletServer(
            runtime, lambda ns, name: self.pods.informer.get(f"{ns}/{name}"), node_name,
            address=address or node_ip, port=port, token=token, auth=auth, tls=tls,
        )

    async def run(self) -> None:
        delay = 1.0
        while True:
            try:
                version = await self.runtime.version()
                break
            except RuntimeFailure as exc:
                log.warning("%s; retrying in %.0fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        root = await self.runtime.root_dir()
        port = self.server.bind()
        node = NodeAgent(
            self.client, self.node_name, node_ip=self.node_ip, runtime_version=version, max_pods=self.max_pods,
            heartbeat_interval=self.heartbeat_interval, status_interval=self.node_status_interval,
            storage_path=root if os.path.isdir(root) else str(self.root), kubelet_port=port,
            system_reserved=self.system_reserved, kube_reserved=self.kube_reserved, eviction_hard=self.eviction_hard,
        )
        log.info("kubelet for node %s (%s) on docker %s", self.node_name, self.node_ip, version)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.server.serve(), name="server")
                tg.create_task(node.run(), name="node")
                await node.registered.wait()
                tg.create_task(self.pods.run(), name="pods")
        finally:
            self.runtime.stop_events()
