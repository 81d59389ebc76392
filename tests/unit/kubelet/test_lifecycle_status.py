"""Status with init containers (phase, Initialized, kubectl's Init:N/M inputs), sidecars in readiness,
probe verdicts in container statuses, termination messages, and a pod failed outright (DeadlineExceeded)."""

from __future__ import annotations

from typing import Any

import pytest

from kubelet.runtime import RuntimeContainer
from kubelet.status import build_pod_status, compute_phase, container_status, init_progress

NOW = "2026-01-01T00:00:10Z"


def st(name: str, state: dict[str, Any], last: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    return {"name": name, "state": state, "lastState": last or {}, "ready": False, **kw}


def done(code: int = 0) -> dict[str, Any]:
    return {"terminated": {"exitCode": code}}


RUNNING = {"running": {}}
WAITING = {"waiting": {"reason": "PodInitializing"}}


def spec(policy: str = "Always", sidecar: bool = False) -> dict[str, Any]:
    inits = [{"name": "a"}, {"name": "b", **({"restartPolicy": "Always"} if sidecar else {})}]
    return {"restartPolicy": policy, "initContainers": inits, "containers": [{"name": "c"}]}


@pytest.mark.parametrize(
    ("policy", "inits", "initialized", "expected"),
    [
        pytest.param("Always", [st("a", RUNNING), st("b", WAITING)], False, "Pending", id="first-running"),
        pytest.param("Always", [st("a", done()), st("b", RUNNING)], False, "Pending", id="second-running"),
        pytest.param("Never", [st("a", done(2)), st("b", WAITING)], False, "Failed", id="never-fails-the-pod"),
        pytest.param("OnFailure", [st("a", {"waiting": {"reason": "CrashLoopBackOff"}}, done(2)),
                                   st("b", WAITING)], False, "Pending", id="retrying"),
        pytest.param("Always", [st("a", done()), st("b", done())], True, "Running", id="initialized"),
    ],
)
def test_phase_with_init_containers(policy: str, inits: list[dict[str, Any]], initialized: bool,
                                    expected: str) -> None:
    app = [st("c", RUNNING if initialized else WAITING)]
    assert compute_phase(spec(policy), app, inits, initialized) == expected


def test_init_progress_counts_sidecars_by_started() -> None:
    assert init_progress(spec(sidecar=True), [st("a", done()), st("b", RUNNING, started=False)]) == (1, 0)
    assert init_progress(spec(sidecar=True), [st("a", done()), st("b", RUNNING, started=True)]) == (0, 0)
    assert init_progress(spec(), [st("a", done(1)), st("b", WAITING)]) == (1, 1)


def pod(status: dict[str, Any] | None = None, **spec_extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p"}, "spec": {**spec(sidecar=True), **spec_extra}, "status": status or {}}


def test_initialized_condition_and_sidecar_readiness() -> None:
    inits = [st("a", done()), st("b", RUNNING, started=True, ready=False)]
    app = [st("c", RUNNING, ready=True)]
    status = build_pod_status(pod(), app, pod_ip="10.0.0.1", host_ip="192.0.2.1", sandbox_ready=True, now=NOW,
                              init_statuses=inits, initialized=True)
    cond = {c["type"]: c for c in status["conditions"]}
    assert cond["Initialized"]["status"] == "True"
    assert cond["Ready"]["status"] == "False"  # the sidecar is not ready yet
    assert cond["Ready"]["message"] == "containers with unready status: [b]"
    assert status["initContainerStatuses"] == inits

    pending = build_pod_status(pod(), [st("c", WAITING)], pod_ip="", host_ip="192.0.2.1", sandbox_ready=True,
                               now=NOW, init_statuses=[st("a", RUNNING), st("b", WAITING)], initialized=False)
    cond = {c["type"]: c for c in pending["conditions"]}
    assert pending["phase"] == "Pending"
    assert cond["Initialized"] == {"type": "Initialized", "status": "False", "lastTransitionTime": NOW,
                                   "reason": "ContainersNotInitialized",
                                   "message": "containers with incomplete status: [a b]"}


def test_failure_sets_phase_reason_and_message_and_sticks() -> None:
    app = [st("c", done(137))]
    failed = build_pod_status(pod(), app, pod_ip="", host_ip="h", sandbox_ready=False, now=NOW,
                              failure=("DeadlineExceeded", "too long"))
    assert (failed["phase"], failed["reason"], failed["message"]) == ("Failed", "DeadlineExceeded", "too long")
    again = build_pod_status(pod(failed), app, pod_ip="", host_ip="h", sandbox_ready=False, now=NOW)
    assert (again["phase"], again["reason"]) == ("Failed", "DeadlineExceeded")


def rc(attempt: int, state: str, code: int = 0) -> RuntimeContainer:
    return RuntimeContainer(id=f"id{attempt}", name="c", pod_uid="u", pod_namespace="n", pod_name="p",
                            attempt=attempt, sandbox=False, state=state, exit_code=code,
                            started_at="2026-01-01T00:00:01Z",
                            finished_at="2026-01-01T00:00:02Z" if state == "exited" else None)


def test_probe_verdicts_and_termination_messages_in_container_status() -> None:
    s = container_status({"name": "c"}, [rc(1, "running"), rc(0, "exited", 1)], ready=False, started=True,
                         messages={"id0": "bye"})
    assert (s["ready"], s["started"]) == (False, True)
    assert s["lastState"]["terminated"]["message"] == "bye"
    s = container_status({"name": "c"}, [rc(1, "running")], ready=True, started=False)
    assert (s["ready"], s["started"]) == (False, False)  # not started means not ready
    s = container_status({"name": "c"}, [rc(0, "exited", 3)], messages={"id0": "boom"})
    assert s["state"]["terminated"] == {"exitCode": 3, "reason": "Error", "message": "boom",
                                        "startedAt": "2026-01-01T00:00:01Z", "finishedAt": "2026-01-01T00:00:02Z",
                                        "containerID": "docker://id0"}
