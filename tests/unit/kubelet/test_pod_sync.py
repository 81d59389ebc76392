"""The pod worker's decisions against an in-memory runtime: what a sync creates, adopts, restarts or leaves
alone, and the status it writes. (The real Docker path is covered end to end in tests/e2e/test_kubelet.py.)"""

from __future__ import annotations

import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

from kube import errors
from kube.events import EventRecorder
from kubelet import naming
from kubelet.pods import PodWorkers
from kubelet.runtime import ImageError, RuntimeContainer

NODE = "n1"
ROOT = tempfile.TemporaryDirectory(prefix="kubelet-unit-")  # pod directories (hosts, resolv.conf) go here


class FakeRuntime:
    def __init__(self, images: tuple[str, ...] = ("busybox", "kubelite/pause:3.9")) -> None:
        self.images = set(images)
        self.containers: dict[str, RuntimeContainer] = {}
        self.ids = itertools.count()
        self.pulls: list[str] = []

    async def list_containers(self, node: str, pod_uid: str | None = None, *, inspect: bool = True
                              ) -> list[RuntimeContainer]:
        return [RuntimeContainer(**vars(c)) for c in self.containers.values()
                if c.labels[naming.NODE_NAME] == node and pod_uid in (None, c.pod_uid)]

    async def inspect(self, container_id: str) -> RuntimeContainer | None:
        return self.containers.get(container_id)

    async def image_ids(self, image: str) -> tuple[str, str] | None:
        return ("sha256:1", "docker://sha256:1") if image in self.images else None

    async def pull(self, image: str) -> None:
        self.pulls.append(image)
        raise ImageError("no registry here")

    async def create(self, name: str, image: str, labels: dict[str, str], **kwargs: Any) -> str:
        cid = f"c{next(self.ids)}"
        self.containers[cid] = RuntimeContainer(
            id=cid, name=labels[naming.CONTAINER_NAME], pod_uid=labels[naming.POD_UID],
            pod_namespace=labels[naming.POD_NAMESPACE], pod_name=labels[naming.POD_NAME],
            attempt=int(labels[naming.ATTEMPT]), sandbox=labels[naming.CONTAINER_TYPE] == "sandbox",
            state="created", image=image, image_id="sha256:1", labels=labels,
            ip="10.0.0.9" if labels[naming.CONTAINER_TYPE] == "sandbox" else "")
        return cid

    async def start(self, container_id: str) -> None:
        c = self.containers[container_id]
        c.state, c.started_at = "running", "2026-01-01T00:00:00Z"

    async def stop(self, container_id: str, timeout: int) -> None:
        self.exit(container_id, 137)

    async def remove(self, container_id: str, force: bool = True) -> None:
        self.containers.pop(container_id, None)

    def watch_events(self, node: str, on_event: Any) -> None:
        return None

    def exit(self, container_id: str, code: int) -> None:
        c = self.containers[container_id]
        c.state, c.exit_code = "exited", code
        c.finished_at, c.finished_ts = "2026-01-01T00:00:01Z", time.time()

    def apps(self, name: str = "main") -> list[RuntimeContainer]:
        return sorted((c for c in self.containers.values() if c.name == name), key=lambda c: c.attempt)


class FakeClient:
    """Only what a sync calls: status patches are kept, events are accepted, nothing else exists."""

    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []
        self.deletes: list[dict[str, Any]] = []

    async def patch(self, rt: Any, name: str, patch: Any, namespace: str | None = None, **kw: Any) -> Any:
        self.patches.append(patch)
        return patch

    async def create(self, rt: Any, obj: dict[str, Any], namespace: str | None = None, **kw: Any) -> Any:
        return obj

    async def get(self, rt: Any, name: str, namespace: str | None = None) -> Any:
        raise errors.NotFound("not here")

    async def delete(self, rt: Any, name: str, namespace: str | None = None, **kw: Any) -> Any:
        self.deletes.append({"name": name, **kw})
        return {}


def workers(runtime: FakeRuntime, client: FakeClient) -> PodWorkers:
    recorder = EventRecorder(client, "kubelet", NODE)  # type: ignore[arg-type]
    return PodWorkers(client, runtime, recorder, node_name=NODE, node_ip="192.0.2.1",  # type: ignore[arg-type]
                      backoff_initial=10, backoff_max=40, root_dir=Path(ROOT.name))


def pod(policy: str = "Always", image: str = "busybox", pull: str = "IfNotPresent") -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": {"nodeName": NODE, "restartPolicy": policy,
                     "containers": [{"name": "main", "image": image, "imagePullPolicy": pull}]},
            "status": {"phase": "Pending", "qosClass": "BestEffort"}}


def last_status(client: FakeClient) -> dict[str, Any]:
    return client.patches[-1]["status"]


async def test_a_new_pod_gets_a_sandbox_and_its_container_then_runs() -> None:
    runtime, client = FakeRuntime(), FakeClient()
    await workers(runtime, client).sync_pod(pod())
    kinds = sorted((c.name, c.attempt, c.state) for c in runtime.containers.values())
    assert kinds == [("POD", 0, "running"), ("main", 0, "running")]
    status = last_status(client)
    assert status["phase"] == "Running" and status["podIP"] == "10.0.0.9"
    assert status["containerStatuses"][0]["state"] == {"running": {"startedAt": "2026-01-01T00:00:00Z"}}


async def test_a_second_sync_adopts_and_changes_nothing() -> None:
    runtime, client = FakeRuntime(), FakeClient()
    w = workers(runtime, client)
    p = pod()
    await w.sync_pod(p)
    before = dict(runtime.containers)
    p["status"] = last_status(client)
    await workers(runtime, client).sync_pod(p)  # a new kubelet: nothing in memory but the runtime's labels
    assert runtime.containers.keys() == before.keys()
    assert len(client.patches) == 1  # the status did not change, so it was not written again


async def test_a_crash_restarts_at_once_then_backs_off() -> None:
    runtime, client = FakeRuntime(), FakeClient()
    w = workers(runtime, client)
    await w.sync_pod(pod())
    runtime.exit(runtime.apps()[0].id, 1)
    await w.sync_pod(pod())
    assert [(c.attempt, c.state) for c in runtime.apps()] == [(0, "exited"), (1, "running")]

    runtime.exit(runtime.apps()[-1].id, 1)
    await w.sync_pod(pod())
    assert [c.attempt for c in runtime.apps()] == [1]  # no new attempt; the older exit was collected
    main = last_status(client)["containerStatuses"][0]
    assert main["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert main["state"]["waiting"]["message"] == "back-off 10s restarting failed container=main pod=p_ns(u1)"
    assert main["lastState"]["terminated"]["exitCode"] == 1 and main["restartCount"] == 1
    assert last_status(client)["phase"] == "Running"


async def test_never_leaves_a_finished_container_alone() -> None:
    runtime, client = FakeRuntime(), FakeClient()
    w = workers(runtime, client)
    await w.sync_pod(pod("Never"))
    runtime.exit(runtime.apps()[0].id, 0)
    await w.sync_pod(pod("Never"))
    assert len(runtime.apps()) == 1
    assert last_status(client)["phase"] == "Succeeded"


async def test_a_dead_sandbox_is_replaced_and_the_containers_restart_in_it() -> None:
    runtime, client = FakeRuntime(), FakeClient()
    w = workers(runtime, client)
    await w.sync_pod(pod())
    sandbox = next(c for c in runtime.containers.values() if c.sandbox)
    runtime.exit(sandbox.id, 137)
    await w.sync_pod(pod())
    sandboxes = [(c.attempt, c.state) for c in runtime.containers.values() if c.sandbox]
    assert sandboxes == [(1, "running")]
    assert [(c.attempt, c.state) for c in runtime.apps()] == [(0, "exited"), (1, "running")]


async def test_missing_images() -> None:
    runtime, client = FakeRuntime(), FakeClient()
    w = workers(runtime, client)
    await w.sync_pod(pod(image="nope:1"))
    assert runtime.pulls == ["nope:1"] and not runtime.apps()
    assert last_status(client)["containerStatuses"][0]["state"]["waiting"]["reason"] == "ErrImagePull"
    await w.sync_pod(pod(image="nope:1"))
    assert runtime.pulls == ["nope:1"]  # backing off: no second pull yet
    assert last_status(client)["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff"
    assert last_status(client)["phase"] == "Pending"

    never = FakeClient()
    await workers(FakeRuntime(), never).sync_pod(pod(image="nope:1", pull="Never"))
    assert last_status(never)["containerStatuses"][0]["state"]["waiting"]["reason"] == "ErrImageNeverPull"


async def test_always_falls_back_to_the_local_image_when_no_registry_answers() -> None:
    runtime, client = FakeRuntime(), FakeClient()
    await workers(runtime, client).sync_pod(pod(pull="Always"))
    assert runtime.pulls == ["busybox"]
    assert runtime.apps()[0].state == "running"


async def test_deletion_stops_writes_a_final_status_removes_and_confirms() -> None:
    runtime, client = FakeRuntime(), FakeClient()
    w = workers(runtime, client)
    await w.sync_pod(pod())
    deleted = pod()
    deleted["metadata"].update(deletionTimestamp="2026-01-01T00:00:30Z", deletionGracePeriodSeconds=30)
    deleted["status"] = last_status(client)
    await w.terminate(deleted)
    assert not runtime.containers
    final = last_status(client)
    assert final["phase"] == "Failed"  # killed by the deletion (exit 137)
    assert final["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 137
    assert client.deletes == [{"name": "p", "grace_period_seconds": 0, "preconditions": {"uid": "u1"}}]

    # Held by a finalizer, the pod comes back: its final status is not overwritten.
    patches = len(client.patches)
    await w.terminate(deleted)
    assert len(client.patches) == patches and len(client.deletes) == 2


def init_pod(policy: str = "Always") -> dict[str, Any]:
    p = pod(policy)
    p["spec"]["initContainers"] = [{"name": "first", "image": "busybox"}, {"name": "second", "image": "busybox"}]
    return p


async def test_init_containers_run_one_at_a_time_then_the_app() -> None:
    runtime, client = FakeRuntime(), FakeClient()
    w = workers(runtime, client)
    await w.sync_pod(init_pod())
    assert [c.name for c in runtime.containers.values() if not c.sandbox] == ["first"]
    status = last_status(client)
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    assert status["initContainerStatuses"][1]["state"]["waiting"]["reason"] == "PodInitializing"
    labels = runtime.apps("first")[0].labels
    assert labels[naming.CONTAINER_TYPE] == "init" and labels[naming.SANDBOX_ID]

    await w.sync_pod(init_pod())  # still running: nothing new
    assert [c.name for c in runtime.containers.values() if not c.sandbox] == ["first"]
    runtime.exit(runtime.apps("first")[0].id, 0)
    await w.sync_pod(init_pod())
    assert runtime.apps("second")[0].state == "running" and not runtime.apps("main")
    runtime.exit(runtime.apps("second")[0].id, 0)
    await w.sync_pod(init_pod())
    assert runtime.apps("main")[0].state == "running"
    status = last_status(client)
    assert status["phase"] == "Running"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Initialized"] == "True"

    # Initialized stays true once the app ran, even with the init containers' records gone.
    await w.sync_pod(init_pod())
    assert len(runtime.apps("main")) == 1


async def test_a_failed_init_container_is_retried_or_fails_the_pod() -> None:
    runtime, client = FakeRuntime(), FakeClient()
    w = workers(runtime, client)
    await w.sync_pod(init_pod("Never"))
    runtime.exit(runtime.apps("first")[0].id, 1)
    await w.sync_pod(init_pod("Never"))
    assert last_status(client)["phase"] == "Failed" and not runtime.apps("second")

    runtime, client = FakeRuntime(), FakeClient()
    w = workers(runtime, client)
    await w.sync_pod(init_pod("OnFailure"))
    runtime.exit(runtime.apps("first")[0].id, 1)
    await w.sync_pod(init_pod("OnFailure"))
    assert [c.attempt for c in runtime.apps("first")] == [0, 1]  # retried at once, then backs off
    runtime.exit(runtime.apps("first")[-1].id, 1)
    await w.sync_pod(init_pod("OnFailure"))
    first = last_status(client)["initContainerStatuses"][0]
    assert first["state"]["waiting"]["reason"] == "CrashLoopBackOff" and last_status(client)["phase"] == "Pending"


async def test_a_deadline_fails_the_pod_and_stops_it() -> None:
    runtime, client = FakeRuntime(), FakeClient()
    w = workers(runtime, client)
    p = pod()
    p["status"]["startTime"] = "2020-01-01T00:00:00Z"
    await w.sync_pod(p)
    assert last_status(client)["phase"] == "Running"
    p["status"] = last_status(client)
    p["spec"]["activeDeadlineSeconds"] = 5  # may be set on a running pod
    await w.sync_pod(p)
    status = last_status(client)
    assert (status["phase"], status["reason"]) == ("Failed", "DeadlineExceeded")
    assert all(not c.running for c in runtime.containers.values())


async def test_a_sidecar_starts_first_keeps_running_and_does_not_hold_the_pod() -> None:
    runtime, client = FakeRuntime(), FakeClient()
    w = workers(runtime, client)
    p = pod("Never")
    p["spec"]["initContainers"] = [{"name": "proxy", "image": "busybox", "restartPolicy": "Always"}]
    await w.sync_pod(p)
    assert runtime.apps("proxy")[0].state == "running" and not runtime.apps("main")
    await w.sync_pod(p)  # the sidecar has started: the app follows, the sidecar stays
    assert runtime.apps("main")[0].state == "running" and runtime.apps("proxy")[0].state == "running"
    runtime.exit(runtime.apps("proxy")[0].id, 1)
    await w.sync_pod(p)
    assert [c.state for c in runtime.apps("proxy")] == ["exited", "running"]  # restarted despite Never
    runtime.exit(runtime.apps("main")[0].id, 0)
    await w.sync_pod(p)
    status = last_status(client)
    assert status["phase"] == "Succeeded"  # the app is done; the sidecar does not keep the pod alive
    await w.sync_pod({**p, "status": status})
    assert not any(c.running for c in runtime.containers.values())  # and it is stopped with the pod
