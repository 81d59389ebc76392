"""Pod status from runtime containers: container states and reasons, phase under each restartPolicy,
conditions and their transition times, and the terminal phase that never goes back."""

from __future__ import annotations

from typing import Any

import pytest

from kubelet.runtime import RuntimeContainer
from kubelet.status import Waiting, build_pod_status, compute_phase, container_state, container_status

NOW = "2026-01-01T00:00:10Z"


def rc(name: str = "c", attempt: int = 0, state: str = "running", exit_code: int = 0, **kw: Any) -> RuntimeContainer:
    defaults = {"started_at": "2026-01-01T00:00:01Z"}
    if state == "exited":
        defaults["finished_at"] = "2026-01-01T00:00:05Z"
    return RuntimeContainer(id=f"{name}{attempt}", name=name, pod_uid="u", pod_namespace="ns", pod_name="p",
                            attempt=attempt, sandbox=False, state=state, exit_code=exit_code,
                            **{**defaults, **kw})


def running() -> dict[str, Any]:
    return {"name": "c", "state": {"running": {}}}


def terminated(code: int) -> dict[str, Any]:
    return {"name": "c", "state": {"terminated": {"exitCode": code}}}


def waiting(after_exit: bool = False) -> dict[str, Any]:
    return {"name": "c", "state": {"waiting": {"reason": "X"}},
            "lastState": {"terminated": {"exitCode": 1}} if after_exit else {}}


def spec(policy: str, n: int = 1) -> dict[str, Any]:
    return {"restartPolicy": policy, "containers": [{"name": "c" if i == 0 else f"c{i}"} for i in range(n)]}


@pytest.mark.parametrize(
    ("policy", "states", "expected"),
    [
        pytest.param("Always", [running()], "Running", id="running"),
        pytest.param("Always", [waiting()], "Pending", id="not-started-yet"),
        pytest.param("Always", [], "Pending", id="no-status"),
        pytest.param("Always", [waiting(after_exit=True)], "Running", id="crash-loop-is-running"),
        pytest.param("Always", [terminated(0)], "Running", id="always-restarts-even-success"),
        pytest.param("Never", [terminated(0)], "Succeeded", id="never-success"),
        pytest.param("Never", [terminated(3)], "Failed", id="never-failure"),
        pytest.param("OnFailure", [terminated(0)], "Succeeded", id="onfailure-success"),
        pytest.param("OnFailure", [terminated(1)], "Running", id="onfailure-restarting"),
    ],
)
def test_phase_of_one_container(policy: str, states: list[dict[str, Any]], expected: str) -> None:
    assert compute_phase(spec(policy), states) == expected


def test_phase_waits_for_every_container_before_finishing() -> None:
    other_running = {"name": "c1", "state": {"running": {}}}
    other_done = {"name": "c1", "state": {"terminated": {"exitCode": 0}}}
    assert compute_phase(spec("Never", 2), [terminated(3), other_running]) == "Running"
    assert compute_phase(spec("Never", 2), [terminated(3), other_done]) == "Failed"
    assert compute_phase(spec("Never", 2), [terminated(0), other_done]) == "Succeeded"
    assert compute_phase(spec("Never", 2), [running(), {"name": "c1", "state": {"waiting": {}}}]) == "Pending"


@pytest.mark.parametrize(
    ("container", "reason", "code"),
    [
        pytest.param(rc(state="exited", exit_code=0), "Completed", 0, id="completed"),
        pytest.param(rc(state="exited", exit_code=2), "Error", 2, id="error"),
        pytest.param(rc(state="exited", exit_code=137, oom_killed=True), "OOMKilled", 137, id="oom"),
        pytest.param(rc(state="created", exit_code=127, error="exec: not found", started_at=None), "StartError", 127,
                     id="start-error"),
    ],
)
def test_terminated_reasons(container: RuntimeContainer, reason: str, code: int) -> None:
    term = container_state(container)["terminated"]
    assert (term["reason"], term["exitCode"]) == (reason, code)
    assert term["containerID"] == f"docker://{container.id}"


def test_created_but_not_started_is_waiting() -> None:
    assert container_state(rc(state="created", started_at=None)) == {"waiting": {"reason": "ContainerCreating"}}


def test_running_container_shows_the_previous_exit_as_last_state() -> None:
    s = container_status({"name": "c", "image": "busybox"}, [rc(attempt=2), rc(attempt=1, state="exited",
                                                                               exit_code=1)], None, "ref")
    assert s["restartCount"] == 2 and s["ready"] and s["started"]
    assert "running" in s["state"] and s["lastState"]["terminated"]["exitCode"] == 1
    assert s["imageID"] == "ref" and s["containerID"] == "docker://c2"


def test_crash_loop_shows_waiting_with_the_exit_as_last_state() -> None:
    back_off = Waiting("CrashLoopBackOff", "back-off 10s restarting failed container=c pod=p_ns(u)")
    s = container_status({"name": "c", "image": "busybox"}, [rc(attempt=3, state="exited", exit_code=1)], back_off)
    assert s["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": back_off.message}}
    assert s["lastState"]["terminated"]["exitCode"] == 1
    assert s["restartCount"] == 3 and not s["ready"]


def test_container_without_a_runtime_container_is_waiting_for_its_reason() -> None:
    s = container_status({"name": "c", "image": "nope"}, [], Waiting("ErrImagePull", "no registry"))
    assert s["state"] == {"waiting": {"reason": "ErrImagePull", "message": "no registry"}}
    assert s["imageID"] == "" and s["restartCount"] == 0


def _pod(status: dict[str, Any] | None = None, policy: str = "Always") -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u"},
            "spec": {"restartPolicy": policy, "containers": [{"name": "c", "image": "busybox"}]},
            "status": status or {"phase": "Pending", "qosClass": "BestEffort",
                                 "conditions": [{"type": "PodScheduled", "status": "True"}]}}


def test_pod_status_has_ips_conditions_and_keeps_transition_times() -> None:
    running_status = container_status({"name": "c", "image": "busybox"}, [rc()])
    first = build_pod_status(_pod(), [running_status], pod_ip="10.0.0.2", host_ip="192.0.2.1",
                             sandbox_ready=True, now="2026-01-01T00:00:01Z")
    assert first["phase"] == "Running" and first["podIP"] == "10.0.0.2" and first["podIPs"] == [{"ip": "10.0.0.2"}]
    assert first["hostIPs"] == [{"ip": "192.0.2.1"}] and first["qosClass"] == "BestEffort"
    conditions = {c["type"]: c for c in first["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["PodScheduled"] == {"type": "PodScheduled", "status": "True"}

    again = build_pod_status(_pod(first), [running_status], pod_ip="10.0.0.2", host_ip="192.0.2.1",
                             sandbox_ready=True, now=NOW)
    assert again == first  # nothing changed, so nothing to write

    stopped = container_status({"name": "c", "image": "busybox"}, [rc(state="exited", exit_code=1)],
                               Waiting("CrashLoopBackOff"))
    later = build_pod_status(_pod(first), [stopped], pod_ip="", host_ip="192.0.2.1", sandbox_ready=True, now=NOW)
    ready = next(c for c in later["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["lastTransitionTime"] == NOW
    assert ready["message"] == "containers with unready status: [c]"
    assert later["podIP"] == "10.0.0.2"  # kept when the sandbox cannot be asked
    assert later["startTime"] == first["startTime"]


def test_terminal_phase_is_never_left() -> None:
    running_status = container_status({"name": "c", "image": "busybox"}, [rc()])
    status = build_pod_status(_pod({"phase": "Succeeded"}, "Never"), [running_status], pod_ip="", host_ip="h",
                              sandbox_ready=False, now=NOW)
    assert status["phase"] == "Succeeded"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "PodCompleted"
