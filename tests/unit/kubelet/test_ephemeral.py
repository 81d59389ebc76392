"""Ephemeral containers in the pod worker, against the in-memory runtime of test_pod_sync: started once in the
pod's running sandbox (never one made in the same sync), in the target's PID namespace, with the pod's volumes;
never restarted; waiting while the target does not run; reported in ephemeralContainerStatuses (never ready,
no `started`) without touching the phase. The real Docker path is in tests/e2e/test_debug.py."""

from __future__ import annotations

import copy
from typing import Any

from kubelet import ephemeral, naming
from tests.unit.kubelet.test_pod_sync import FakeClient, FakeRuntime, last_status, pod, workers


class RecordingRuntime(FakeRuntime):
    def __init__(self) -> None:
        super().__init__()
        self.kwargs: dict[str, dict[str, Any]] = {}  # container name -> its create arguments

    async def create(self, name: str, image: str, labels: dict[str, str], **kwargs: Any) -> str:
        cid = await super().create(name, image, labels, **kwargs)
        self.kwargs[labels[naming.CONTAINER_NAME]] = kwargs
        return cid


DEBUGGER = {"name": "debugger", "image": "busybox", "imagePullPolicy": "IfNotPresent", "command": ["ps"],
            "targetContainerName": "main", "stdin": True}


def debugged(base: dict[str, Any], **extra: Any) -> dict[str, Any]:
    p = copy.deepcopy(base)
    p["spec"]["ephemeralContainers"] = [{**DEBUGGER, **extra}]
    return p


def ephemeral_status(client: FakeClient) -> dict[str, Any]:
    [entry] = last_status(client)["ephemeralContainerStatuses"]
    return entry


async def test_started_once_in_the_sandbox_and_the_targets_pid_namespace() -> None:
    runtime, client = RecordingRuntime(), FakeClient()
    w = workers(runtime, client)
    await w.sync_pod(pod())
    main, sandbox = runtime.apps()[0], next(c for c in runtime.containers.values() if c.sandbox)
    await w.sync_pod(debugged(pod()))
    [debugger] = runtime.apps("debugger")
    assert debugger.state == "running" and debugger.attempt == 0
    assert debugger.labels[naming.CONTAINER_TYPE] == naming.TYPE_EPHEMERAL
    kwargs = runtime.kwargs["debugger"]
    assert kwargs["pid_mode"] == f"container:{main.id}"
    assert kwargs["network_mode"] == f"container:{sandbox.id}" and kwargs["ipc_mode"] == f"container:{sandbox.id}"
    assert kwargs["entrypoint"] == ["ps"] and kwargs["stdin_open"] is True
    entry = ephemeral_status(client)
    assert entry["state"] == {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
    assert entry["ready"] is False and "started" not in entry and entry["restartCount"] == 0
    assert [s["name"] for s in last_status(client)["containerStatuses"]] == ["main"]
    assert last_status(client)["phase"] == "Running"

    runtime.exit(debugger.id, 0)
    await w.sync_pod(debugged(pod()))
    assert [c.state for c in runtime.apps("debugger")] == ["exited"]  # never restarted
    assert ephemeral_status(client)["state"]["terminated"]["reason"] == "Completed"
    assert last_status(client)["phase"] == "Running"


async def test_waits_while_its_target_does_not_run() -> None:
    runtime, client = RecordingRuntime(), FakeClient()
    w = workers(runtime, client)
    await w.sync_pod(pod())
    await w.sync_pod(debugged(pod(), targetContainerName="nope"))
    assert not runtime.apps("debugger")
    assert ephemeral_status(client)["state"] == {"waiting": {
        "reason": "CreateContainerConfigError", "message": "unable to find target container nope"}}
    runtime.exit(runtime.apps()[0].id, 1)  # the target is down (a restart is due at the next sync)
    assert ephemeral.to_start(debugged(pod()), {"main": runtime.apps()}, waits := {}) == []
    assert waits["debugger"].reason == "ContainerCreating"


async def test_not_in_a_sandbox_made_by_the_same_sync() -> None:
    runtime, client = RecordingRuntime(), FakeClient()
    w = workers(runtime, client)
    await w.sync_pod(debugged(pod(), targetContainerName=None))
    assert runtime.apps("main") and not runtime.apps("debugger")
    await w.sync_pod(debugged(pod(), targetContainerName=None))
    assert [c.state for c in runtime.apps("debugger")] == ["running"]
    assert "pid_mode" not in runtime.kwargs["debugger"]  # no target: the pod's own namespaces


async def test_a_shared_process_namespace_is_kept_and_volumes_are_mounted() -> None:
    runtime, client = RecordingRuntime(), FakeClient()
    base = pod()
    base["spec"].update(shareProcessNamespace=True, volumes=[{"name": "data", "emptyDir": {}}])
    w = workers(runtime, client)
    await w.sync_pod(base)
    sandbox = next(c for c in runtime.containers.values() if c.sandbox)
    await w.sync_pod(debugged(base, volumeMounts=[{"name": "data", "mountPath": "/data"}]))
    kwargs = runtime.kwargs["debugger"]
    assert kwargs["pid_mode"] == f"container:{sandbox.id}"
    assert any(m["Target"] == "/data" for m in kwargs["mounts"])


def test_the_status_entry_is_never_ready() -> None:
    entry = {"name": "d", "ready": True, "started": True, "restartCount": 0, "state": {"running": {}}}
    assert ephemeral.status(entry) == {"name": "d", "ready": False, "restartCount": 0, "state": {"running": {}}}
