"""Probes and lifecycle hooks: liveness, readiness and startup probes, each in a task of its own per
container, and the postStart/preStop handlers that share their actions (exec, httpGet, tcpSocket, sleep).

    Prober          runs one action against a container: `docker exec`, an HTTP GET to the pod IP from
                    the host, a TCP connect; each bounded by its timeout
    ProbeManager    one worker task per (container, probe kind); keeps the results the status reads
                    (`started`, `ready`) and calls back when a result changes or a liveness/startup probe
                    fails for good (the pod worker then kills the container, which restarts per policy)

A worker follows the kubelet's `prober/worker.go`: nothing before initialDelaySeconds; a run every
periodSeconds; a result changes only after failureThreshold failures or successThreshold successes in a
row; liveness and readiness wait for the startup probe to succeed. A slow probe holds only its own task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from kubelet.runtime import ContainerRuntime, RuntimeContainer, RuntimeFailure, docker_epoch

__all__ = ["KINDS", "ProbeManager", "ProbeResult", "Prober", "probe_settings"]

log = logging.getLogger("kubelet.probes")

Obj = dict[str, Any]
KINDS = ("startup", "liveness", "readiness")
_USER_AGENT = "kube-probe/1.36"


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    output: str = ""


@dataclass(frozen=True)
class Settings:
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3


def probe_settings(probe: Obj) -> Settings:
    """A probe's timings with Kubernetes' defaults (period 10 s, timeout 1 s, thresholds 1 and 3)."""
    return Settings(
        initial_delay=float(probe.get("initialDelaySeconds") or 0),
        period=float(probe.get("periodSeconds") or 10),
        timeout=float(probe.get("timeoutSeconds") or 1),
        success_threshold=int(probe.get("successThreshold") or 1),
        failure_threshold=int(probe.get("failureThreshold") or 3),
    )


def _port(container: Obj, port: Any) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"port {port!r} is not a number and no container port has that name")


class Prober:
    """Runs one probe or hook action against a running container."""

    def __init__(self, runtime: ContainerRuntime) -> None:
        self.runtime = runtime
        # As on Kubernetes, HTTPS probes do not verify certificates; no proxy from the environment either.
        self._http = httpx.AsyncClient(verify=False, follow_redirects=False, trust_env=False)

    async def close(self) -> None:
        await self._http.aclose()

    async def run(self, action: Obj, container: Obj, container_id: str, pod_ip: str, timeout: float) -> ProbeResult:
        try:
            if "exec" in action:
                return await self._exec(action["exec"], container_id, timeout)
            if "httpGet" in action:
                return await self._http_get(action["httpGet"], container, pod_ip, timeout)
            if "tcpSocket" in action:
                return await self._tcp(action["tcpSocket"], container, pod_ip, timeout)
            if "sleep" in action:
                await asyncio.sleep(float(action["sleep"].get("seconds") or 0))
                return ProbeResult(True)
            if "grpc" in action:
                return ProbeResult(False, "grpc probes are not supported by this kubelet")
        except ValueError as exc:
            return ProbeResult(False, str(exc))
        return ProbeResult(False, "the probe has no handler")

    async def _exec(self, action: Obj, container_id: str, timeout: float) -> ProbeResult:
        command = [str(a) for a in action.get("command") or []]
        try:
            code, output = await self.runtime.exec_run(container_id, command, timeout)
        except TimeoutError:
            return ProbeResult(False, f"command {command!r} timed out")
        except RuntimeFailure as exc:
            return ProbeResult(False, str(exc))
        text = output.decode(errors="replace").strip()
        if code == 0:
            return ProbeResult(True, text)
        return ProbeResult(False, text or f"command {command!r} exited with {code}")

    async def _http_get(self, action: Obj, container: Obj, pod_ip: str, timeout: float) -> ProbeResult:
        scheme = (action.get("scheme") or "HTTP").lower()
        host = action.get("host") or pod_ip
        port = _port(container, action.get("port"))
        path = action.get("path") or "/"
        if not path.startswith("/"):
            path = "/" + path
        url = f"{scheme}://{host}:{port}{path}"
        headers = {"User-Agent": _USER_AGENT, "Accept": "*/*"}
        for header in action.get("httpHeaders") or []:
            headers[header.get("name", "")] = header.get("value", "")
        try:
            resp = await self._http.get(url, headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            return ProbeResult(False, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while '
                                      "awaiting headers)")
        except httpx.HTTPError as exc:
            return ProbeResult(False, f'Get "{url}": {exc}')
        if 200 <= resp.status_code < 400:
            return ProbeResult(True, resp.text[:10240])
        return ProbeResult(False, f"HTTP probe failed with statuscode: {resp.status_code}")

    async def _tcp(self, action: Obj, container: Obj, pod_ip: str, timeout: float) -> ProbeResult:
        host = action.get("host") or pod_ip
        port = _port(container, action.get("port"))
        try:
            async with asyncio.timeout(timeout):
                _reader, writer = await asyncio.open_connection(host, port)
        except TimeoutError:
            return ProbeResult(False, f"dial tcp {host}:{port}: i/o timeout")
        except OSError as exc:
            return ProbeResult(False, f"dial tcp {host}:{port}: {exc.strerror or exc}")
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        return ProbeResult(True)


@dataclass
class _Target:
    """What a worker probes: one container instance of a pod."""

    pod: Obj
    spec: Obj
    container_id: str
    started_ts: float
    pod_ip: str
    key: str = field(default="")


# on_change(pod key); on_failure(pod, container spec, container id, kind, message); record(pod, type, reason,
# message, container spec)
OnChange = Callable[[str], None]
OnFailure = Callable[[Obj, Obj, str, str, str], None]
Record = Callable[[Obj, str, str, str, Obj | None], None]


class ProbeManager:
    def __init__(self, prober: Prober, on_change: OnChange, on_failure: OnFailure, record: Record,
                 clock: Callable[[], float] = time.time) -> None:
        self.prober = prober
        self.on_change = on_change
        self.on_failure = on_failure
        self.record = record
        self.clock = clock
        self._workers: dict[tuple[str, str], asyncio.Task[None]] = {}  # (container id, kind) -> worker
        self._pods: dict[str, set[str]] = {}  # pod uid -> container ids with workers
        self._results: dict[tuple[str, str], bool] = {}  # (container id, kind) -> current result

    # ------------------------------------------------------------------ results the status reads

    def started(self, container_id: str, spec: Obj) -> bool:
        """Whether the startup probe has succeeded (always, without one)."""
        if not spec.get("startupProbe"):
            return True
        return self._results.get((container_id, "startup"), False)

    def ready(self, container_id: str, spec: Obj) -> bool:
        """Whether the container is ready: started, and its readiness probe succeeding (if it has one)."""
        if not self.started(container_id, spec):
            return False
        if not spec.get("readinessProbe"):
            return True
        return self._results.get((container_id, "readiness"), False)

    # ------------------------------------------------------------------ workers

    def update(self, pod: Obj, running: list[tuple[Obj, RuntimeContainer]], pod_ip: str, key: str) -> None:
        """Probe exactly these running containers of the pod: start missing workers, stop stale ones."""
        uid = pod["metadata"]["uid"]
        wanted: set[str] = set()
        for spec, rc in running:
            wanted.add(rc.id)
            for kind in KINDS:
                probe = spec.get(f"{kind}Probe")
                if not probe or (rc.id, kind) in self._workers:
                    continue
                target = _Target(pod, spec, rc.id, docker_epoch(rc.started_at) if rc.started_at else self.clock(),
                                 pod_ip, key)
                task = asyncio.get_running_loop().create_task(self._work(target, kind, probe),
                                                              name=f"probe-{kind}-{rc.id[:12]}")
                self._workers[(rc.id, kind)] = task
        for cid in self._pods.get(uid, set()) - wanted:
            self._stop_container(cid)
        self._pods[uid] = wanted

    def remove_pod(self, uid: str) -> None:
        for cid in self._pods.pop(uid, set()):
            self._stop_container(cid)

    def _stop_container(self, cid: str) -> None:
        for kind in KINDS:
            task = self._workers.pop((cid, kind), None)
            if task is not None:
                task.cancel()
            self._results.pop((cid, kind), None)

    async def stop(self) -> None:
        tasks = list(self._workers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()

    async def _work(self, target: _Target, kind: str, probe: Obj) -> None:
        settings = probe_settings(probe)
        cid, spec = target.container_id, target.spec
        initial = kind == "liveness"  # liveness starts passing; readiness and startup start failing
        self._results[(cid, kind)] = initial
        last: bool | None = None
        streak = 0
        reported: tuple[str, float] = ("", 0.0)  # the last Unhealthy event: one per message per 30 s
        try:
            delay = target.started_ts + settings.initial_delay - self.clock()
            if delay > 0:
                await asyncio.sleep(delay)
            while True:
                if kind == "startup" and self._results.get((cid, "startup")):
                    return  # a startup probe stops once it succeeded
                if kind != "startup" and not self.started(cid, spec):
                    await asyncio.sleep(settings.period)
                    continue
                result = await self.prober.run(probe, spec, cid, target.pod_ip, settings.timeout)
                if (cid, kind) not in self._workers:
                    return  # stopped while probing
                streak = streak + 1 if result.ok == last else 1
                last = result.ok
                if not result.ok and (reported[0] != result.output or self.clock() - reported[1] >= 30):
                    reported = (result.output, self.clock())
                    self.record(target.pod, "Warning", "Unhealthy",
                                f"{kind.capitalize()} probe failed: {result.output}", spec)
                threshold = settings.success_threshold if result.ok else settings.failure_threshold
                if streak >= threshold and self._results.get((cid, kind)) != result.ok:
                    self._results[(cid, kind)] = result.ok
                    self.on_change(target.key)
                    if not result.ok and kind in ("liveness", "startup"):
                        self.on_failure(target.pod, spec, cid, kind, result.output)
                        return  # the container is being killed; its successor gets new workers
                await asyncio.sleep(settings.period)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s probe of container %s crashed", kind, cid[:12])
