"""Everything around one container's life that is not the pod worker's decision: its Docker arguments in
full (environment with ConfigMaps, Secrets and service variables; volume mounts; the pod's managed
/etc/hosts and resolv.conf; the termination-message file), its postStart hook, its graceful stop
(preStop hook, SIGTERM, SIGKILL after the grace period), and the termination message it left.

`kubelet.pods` decides what to start and stop; this module carries it out with the runtime, the volume
manager and the prober.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kube.resources import CONFIGMAPS, SECRETS, ResourceType
from kubelet import dns
from kubelet.containers import ConfigError, Sources, container_config, env_references, mount_specs, resolve_env
from kubelet.probes import Prober
from kubelet.runtime import ContainerRuntime, RuntimeContainer, RuntimeFailure
from kubelet.volumes import HostVolume, VolumeError, VolumeManager, resolve_subpath

__all__ = ["DnsSettings", "Launcher", "PodFiles", "field_path"]

log = logging.getLogger("kubelet.launch")

Obj = dict[str, Any]
Fetch = Callable[[ResourceType, str, str], Awaitable[Obj | None]]
Record = Callable[[Obj, str, str, str, Obj | None], None]

MIN_GRACE = 2  # seconds a container always gets after its preStop hook, as the kubelet's minimum
DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"


def field_path(pod: Obj, name: str) -> str:
    """`spec.containers{web}`, `spec.initContainers{setup}` or `spec.ephemeralContainers{debugger}`: what an
    Event's involvedObject.fieldPath says."""
    for group in ("initContainers", "ephemeralContainers"):
        if any(c["name"] == name for c in pod["spec"].get(group) or []):
            return f"spec.{group}{{{name}}}"
    return f"spec.containers{{{name}}}"


@dataclass(frozen=True)
class DnsSettings:
    cluster_dns: list[str] = field(default_factory=list)
    cluster_domain: str = "cluster.local"
    resolv_conf: str = "/etc/resolv.conf"  # the node's, for dnsPolicy Default


@dataclass
class PodFiles:
    """What every container of a pod mounts: its volumes and its managed /etc/hosts and resolv.conf."""

    volumes: dict[str, HostVolume]
    hosts: str | None
    resolv: str | None


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


class Launcher:
    def __init__(
        self,
        runtime: ContainerRuntime,
        volumes: VolumeManager,
        prober: Prober,
        fetch: Fetch,
        services: Callable[[], list[Obj]],
        record: Record,
        *,
        node_ip: str,
        dns_settings: DnsSettings | None = None,
        allocatable: dict[str, str] | None = None,
    ) -> None:
        self.runtime = runtime
        self.volumes = volumes
        self.prober = prober
        self.fetch = fetch
        self.services = services
        self.record = record
        self.node_ip = node_ip
        self.dns = dns_settings or DnsSettings()
        self.allocatable = allocatable or {}
        self._messages: dict[str, str] = {}  # container id -> termination message (it no longer changes)

    # ------------------------------------------------------------------ before containers start

    async def prepare(self, pod: Obj, pod_ip: str) -> PodFiles:
        """Volumes, /etc/hosts and resolv.conf of the pod (VolumeError when a volume cannot be set up)."""
        uid = pod["metadata"]["uid"]
        volumes = await self.volumes.setup(pod)
        hosts = self.volumes.write_file(uid, "etc-hosts", dns.hosts_file(
            pod, pod_ip, self.dns.cluster_domain, _read("/etc/hosts") if pod["spec"].get("hostNetwork") else ""))
        resolv_text = dns.resolv_conf(pod, cluster_dns=self.dns.cluster_dns, cluster_domain=self.dns.cluster_domain,
                                      host_resolv=_read(self.dns.resolv_conf))
        resolv = self.volumes.write_file(uid, "resolv.conf", resolv_text) if resolv_text is not None else None
        return PodFiles(volumes, hosts, resolv)

    async def env_sources(self, pod: Obj, spec: Obj) -> Sources:
        """The data of the ConfigMaps and Secrets the container's environment reads (None: not found)."""
        sources: Sources = {}
        namespace = pod["metadata"]["namespace"]
        for kind, name in env_references(spec):
            obj = await self.fetch(CONFIGMAPS if kind == "configmap" else SECRETS, namespace, name)
            if obj is None:
                sources[(kind, name)] = None
            elif kind == "configmap":
                data = {k: str(v) for k, v in (obj.get("data") or {}).items()}
                data.update({k: base64.b64decode(v).decode(errors="replace")
                             for k, v in (obj.get("binaryData") or {}).items()})
                sources[(kind, name)] = data
            else:
                sources[(kind, name)] = {k: base64.b64decode(v).decode(errors="replace")
                                         for k, v in (obj.get("data") or {}).items()}
        return sources

    async def container_kwargs(self, pod: Obj, spec: Obj, attempt: int, sandbox: RuntimeContainer, pod_ip: str,
                               files: PodFiles) -> Obj:
        """`DockerRuntime.create` arguments of one container; ConfigError: CreateContainerConfigError."""
        ns = pod["metadata"]["namespace"]
        service_env = dns.service_env(self.services(), ns, pod["spec"].get("enableServiceLinks", True) is not False)
        env = resolve_env(pod, spec, pod_ip=pod_ip, host_ip=self.node_ip, sources=await self.env_sources(pod, spec),
                          service_env=service_env, allocatable=self.allocatable)
        await self._check_non_root(pod, spec)
        mounts: list[Obj] = []
        targets: set[str] = set()
        for volume_name, target, read_only, sub in mount_specs(spec, env):
            volume = files.volumes.get(volume_name)
            if volume is None:
                raise ConfigError(f'volume "{volume_name}" is not defined in the pod (or could not be set up)')
            try:
                source = resolve_subpath(volume.path, sub) if sub else volume.path
            except (VolumeError, OSError) as exc:
                raise ConfigError(f'failed to prepare subPath for volumeMount "{volume_name}" of container '
                                  f'"{spec["name"]}": {exc}') from None
            mounts.append(_bind(source, target, read_only or volume.read_only))
            targets.add(target.rstrip("/"))
        if files.hosts and "/etc/hosts" not in targets:
            mounts.append(_bind(files.hosts, "/etc/hosts", False))
        if files.resolv and "/etc/resolv.conf" not in targets:
            mounts.append(_bind(files.resolv, "/etc/resolv.conf", False))
        message_path = spec.get("terminationMessagePath") or DEFAULT_TERMINATION_MESSAGE_PATH
        if message_path not in targets:
            log_file = self.volumes.termination_log(pod["metadata"]["uid"], spec["name"], attempt)
            mounts.append(_bind(log_file, message_path, False))
        kwargs = container_config(pod, spec, sandbox_id=sandbox.id, pod_ip=pod_ip, host_ip=self.node_ip, env=env,
                                  mounts=mounts)
        if sandbox.ipc_mode not in ("", "shareable", "host") and not pod["spec"].get("hostIPC"):
            kwargs.pop("ipc_mode", None)  # a sandbox made before sandboxes shared their IPC namespace
        return kwargs

    async def _check_non_root(self, pod: Obj, spec: Obj) -> None:
        pod_security = pod["spec"].get("securityContext") or {}
        security = spec.get("securityContext") or {}
        if not security.get("runAsNonRoot", pod_security.get("runAsNonRoot")):
            return
        user = security.get("runAsUser", pod_security.get("runAsUser"))
        if user is None:
            image_user = getattr(self.runtime, "image_user", None)
            configured = await image_user(spec["image"]) if image_user else ""
            name = (configured or "").split(":", 1)[0]
            if name in ("", "0", "root"):
                raise ConfigError("container has runAsNonRoot and image will run as root "
                                  f'(pod: "{pod["metadata"]["name"]}", container: {spec["name"]})')
            if not name.isdigit():
                raise ConfigError(f"container has runAsNonRoot and image has non-numeric user ({name}), "
                                  "cannot verify user is non-root")
        elif int(user) == 0:
            raise ConfigError("container's runAsUser breaks non-root policy "
                              f'(pod: "{pod["metadata"]["name"]}", container: {spec["name"]})')

    # ------------------------------------------------------------------ hooks

    async def post_start(self, pod: Obj, spec: Obj, container_id: str, pod_ip: str) -> str | None:
        """Run the postStart hook, if any; the failure message when it failed."""
        hook = (spec.get("lifecycle") or {}).get("postStart")
        if not hook:
            return None
        grace = int(pod["spec"].get("terminationGracePeriodSeconds", 30) or 30)
        result = await self.prober.run(hook, spec, container_id, pod_ip, float(max(grace, 30)))
        return None if result.ok else (result.output or "the hook failed")

    async def stop(self, pod: Obj, rc: RuntimeContainer, grace: int, reason: str | None = None) -> None:
        """Stop one container gracefully: its preStop hook, then SIGTERM, then SIGKILL when the grace period
        (minus the hook's time, at least 2 s after it) runs out. `reason` is the Killing event's message
        ("": the caller recorded one)."""
        spec = _spec_of(pod, rc.name)
        if reason != "":
            self.record(pod, "Normal", "Killing", reason or f"Stopping container {rc.name}", spec)
        hook = ((spec or {}).get("lifecycle") or {}).get("preStop")
        if hook and rc.running and spec is not None and grace > 0:
            started = time.monotonic()
            pod_ip = (pod.get("status") or {}).get("podIP") or ""
            try:
                result = await asyncio.wait_for(self.prober.run(hook, spec, rc.id, pod_ip, float(grace)), grace)
                if not result.ok:
                    self.record(pod, "Warning", "FailedPreStopHook",
                                f'PreStopHook failed: {result.output}', spec)
            except TimeoutError:
                self.record(pod, "Warning", "FailedPreStopHook",
                            f"PreStopHook did not finish within the grace period of {grace}s", spec)
            grace = max(MIN_GRACE, grace - math.ceil(time.monotonic() - started))
        await self.runtime.stop(rc.id, grace)

    # ------------------------------------------------------------------ after it ended

    async def termination_message(self, pod: Obj, rc: RuntimeContainer) -> str:
        """What an exited container wrote to its terminationMessagePath (at most 4 KiB), or with
        FallbackToLogsOnError and nothing written after a failure, the tail of its log (80 lines, 2 KiB)."""
        if rc.id in self._messages:
            return self._messages[rc.id]
        message = self.volumes.read_termination_log(pod["metadata"]["uid"], rc.name, rc.attempt)
        spec = _spec_of(pod, rc.name) or {}
        if not message and rc.exit_code != 0 and spec.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            chunks = bytearray()
            try:
                async for chunk in self.runtime.logs(rc.id, tail=80):
                    chunks += chunk
            except RuntimeFailure:
                pass
            message = bytes(chunks[-2048:]).decode(errors="replace")
        if len(self._messages) > 10000:  # a bound, not an index: an evicted message is simply read again
            self._messages.clear()
        self._messages[rc.id] = message
        return message


def _bind(source: str, target: str, read_only: bool) -> Obj:
    return {"Type": "bind", "Source": source, "Target": target, "ReadOnly": read_only}


def _spec_of(pod: Obj, name: str) -> Obj | None:
    spec = pod["spec"]
    return next((c for c in [*spec.get("initContainers", []), *spec.get("containers", []),
                             *spec.get("ephemeralContainers", [])] if c["name"] == name), None)
