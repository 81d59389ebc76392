"""kubectl's column logic: pod STATUS/READY/RESTARTS, node STATUS, ages."""

from __future__ import annotations

import pytest

from kube import printers, timeutil


def pod(statuses: list[dict] | None = None, phase: str = "Running", deleting: bool = False,
        init: list[dict] | None = None) -> dict:
    meta: dict = {"name": "p"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec = {"containers": [{"name": f"c{i}"} for i in range(max(1, len(statuses or [])))]}
    if init is not None:
        spec["initContainers"] = [{"name": f"i{i}"} for i in range(len(init))]
    return {"metadata": meta, "spec": spec,
            "status": {"phase": phase, "containerStatuses": statuses or [], "initContainerStatuses": init or []}}


def cs(state: dict, ready: bool = False, restarts: int = 0) -> dict:
    return {"name": "c", "state": state, "ready": ready, "restartCount": restarts, "image": "i", "imageID": ""}


@pytest.mark.parametrize(
    ("obj", "status"),
    [
        pytest.param(pod(phase="Pending"), "Pending", id="pending"),
        pytest.param(pod([cs({"waiting": {"reason": "ContainerCreating"}})], "Pending"), "ContainerCreating",
                     id="creating"),
        pytest.param(pod([cs({"waiting": {"reason": "CrashLoopBackOff"}})]), "CrashLoopBackOff", id="crashloop"),
        pytest.param(pod([cs({"terminated": {"exitCode": 0, "reason": "Completed"}})], "Succeeded"), "Completed",
                     id="completed"),
        pytest.param(pod([cs({"terminated": {"exitCode": 3}})], "Failed"), "ExitCode:3", id="exit-code"),
        pytest.param(pod([cs({"running": {}}, ready=True)]), "Running", id="running"),
        pytest.param(pod([cs({"running": {}}, ready=True)], deleting=True), "Terminating", id="terminating"),
        pytest.param(pod([cs({"waiting": {"reason": "PodInitializing"}})], "Pending",
                         init=[{"name": "i0", "state": {"running": {}}}]), "Init:0/1", id="init-running"),
        pytest.param(pod([], "Pending", init=[{"name": "i0", "state": {"waiting": {"reason": "ErrImagePull"}}}]),
                     "Init:ErrImagePull", id="init-image"),
    ],
)
def test_pod_status(obj: dict, status: str) -> None:
    assert printers.pod_status(obj) == status


def test_ready_and_restarts() -> None:
    p = pod([cs({"running": {}}, True, 2), cs({"running": {}}, False, 1)])
    assert printers.pod_ready(p) == "1/2"
    assert printers.pod_restarts(p) == 3


def test_node_status() -> None:
    node = {"spec": {"unschedulable": True}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    assert printers.node_status(node) == "NotReady,SchedulingDisabled"
    assert printers.node_status({"status": {}}) == "Unknown"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5, "5s"), (119, "119s"), (125, "2m5s"), (600, "10m"), (3 * 3600 + 5, "3h"), (5 * 3600 + 60, "5h1m"),
     (30 * 3600, "30h"), (3 * 86400 + 3600 * 4, "3d4h"), (40 * 86400, "40d"), (3 * 365 * 86400, "3y")],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert timeutil.human_duration(seconds) == text
