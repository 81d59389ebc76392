"""Probe workers with a scripted prober: thresholds, startup gating liveness and readiness, the failure
callback that kills a container, and Unhealthy events; probe defaults and named ports."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubelet.probes import ProbeManager, ProbeResult, probe_settings
from kubelet.probes import _port as probe_port
from kubelet.runtime import RuntimeContainer

POD = {"metadata": {"name": "p", "namespace": "n", "uid": "u"}, "spec": {}}


class ScriptedProber:
    """Each probe kind answers from its own script (the last answer repeats)."""

    def __init__(self, **scripts: list[bool]) -> None:
        self.scripts = scripts
        self.calls: list[str] = []

    async def run(self, action: dict[str, Any], container: dict[str, Any], cid: str, ip: str,
                  timeout: float) -> ProbeResult:
        kind = action["kind"]
        self.calls.append(kind)
        script = self.scripts[kind]
        ok = script.pop(0) if len(script) > 1 else script[0]
        return ProbeResult(ok, "" if ok else f"{kind} says no")


def probe(kind: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "periodSeconds": 0.01, **extra}


def running(cid: str = "c1") -> RuntimeContainer:
    return RuntimeContainer(id=cid, name="main", pod_uid="u", pod_namespace="n", pod_name="p", attempt=0,
                            sandbox=False, state="running")


class Calls:
    def __init__(self) -> None:
        self.changes: list[str] = []
        self.failures: list[tuple[str, str]] = []
        self.events: list[tuple[str, str]] = []

    def manager(self, prober: ScriptedProber) -> ProbeManager:
        return ProbeManager(prober, self.changes.append,  # type: ignore[arg-type]
                            lambda pod, spec, cid, kind, out: self.failures.append((cid, kind)),
                            lambda pod, etype, reason, message, spec: self.events.append((reason, message)))


async def settle(manager: ProbeManager, until: Any, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not until():
            await asyncio.sleep(0.005)


async def test_readiness_needs_success_threshold_and_drops_after_failures() -> None:
    calls = Calls()
    prober = ScriptedProber(readiness=[False, True, True, False, False, False])
    spec = {"name": "main", "readinessProbe": probe("readiness", successThreshold=2, failureThreshold=3)}
    manager = calls.manager(prober)
    manager.update(POD, [(spec, running())], "10.0.0.1", "n/p")
    assert not manager.ready("c1", spec)
    await settle(manager, lambda: manager.ready("c1", spec))
    await settle(manager, lambda: not manager.ready("c1", spec))
    assert prober.calls.count("readiness") >= 6
    assert calls.events[0] == ("Unhealthy", "Readiness probe failed: readiness says no")
    assert not calls.failures  # readiness never kills
    await manager.stop()


async def test_startup_gates_liveness_and_liveness_failure_kills() -> None:
    calls = Calls()
    prober = ScriptedProber(startup=[False, True], liveness=[True, False, False])
    spec = {"name": "main", "startupProbe": probe("startup", failureThreshold=5),
            "livenessProbe": probe("liveness", failureThreshold=2)}
    manager = calls.manager(prober)
    manager.update(POD, [(spec, running())], "10.0.0.1", "n/p")
    assert not manager.started("c1", spec)
    await settle(manager, lambda: bool(calls.failures))
    assert calls.failures == [("c1", "liveness")]
    assert prober.calls[:2] == ["startup", "startup"]  # liveness waited for the startup probe
    assert manager.started("c1", spec)
    await manager.stop()


async def test_workers_follow_the_running_containers() -> None:
    calls = Calls()
    manager = calls.manager(ScriptedProber(readiness=[True]))
    spec = {"name": "main", "readinessProbe": probe("readiness")}
    manager.update(POD, [(spec, running("c1"))], "ip", "n/p")
    await settle(manager, lambda: manager.ready("c1", spec))
    manager.update(POD, [(spec, running("c2"))], "ip", "n/p")  # restarted: a new container, a new verdict
    assert not manager.ready("c1", spec) and not manager.ready("c2", spec)
    await settle(manager, lambda: manager.ready("c2", spec))
    manager.remove_pod("u")
    assert not manager.ready("c2", spec)
    await manager.stop()


def test_defaults_and_named_ports() -> None:
    s = probe_settings({})
    assert (s.initial_delay, s.period, s.timeout, s.success_threshold, s.failure_threshold) == (0, 10, 1, 1, 3)
    container = {"ports": [{"name": "http", "containerPort": 8080}]}
    assert probe_port(container, "http") == 8080 and probe_port(container, 81) == 81
    with pytest.raises(ValueError):
        probe_port(container, "grpc")
