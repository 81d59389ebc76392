"""The Job and CronJob controllers as a real controller-manager process against a real apiserver.

Job: parallelism never exceeded and completion (SuccessCriteriaMet then Complete), backoffLimit with the
back-off between failed pods, activeDeadlineSeconds, suspend and resume, Indexed completion, a `kill -9`
of the controller-manager mid-Job (counts stay right, no extra pod), ttlSecondsAfterFinished. CronJob: runs
at the schedule's minute with deterministic names, catching up a missed run at once, TooManyMissedTimes,
concurrencyPolicy Forbid and Replace, history limits, suspend, and `kubectl create job --from=cronjob/...`.
One test runs real busybox pods through a kubelet.

Without a kubelet pods stay Pending; the tests "play kubelet" by writing pod status through the status
subresource, as a kubelet would. Each test has its own namespace, emptied at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from cli import supervise
from kube import errors, timeutil
from kube.client import ApiClient, kubeconfig
from kube.resources import CRONJOBS, EVENTS, JOBS, NAMESPACES, NODES, PODS
from tests.e2e.waiting import eventually

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]
FINALIZER = "batch.kubernetes.io/job-tracking"
CONTROLLERS = ("controllers", "--controllers", "job,cronjob", "--leader-elect", "false")
_numbers = count()


# ---------------------------------------------------------------------- fixtures


@pytest.fixture
async def ns(api: ApiClient, run_id: str) -> AsyncIterator[str]:
    """A namespace for one test; at the end its CronJobs, Jobs and pods go (finalizers dropped), then it."""
    name = f"jobs{next(_numbers)}-{run_id}"
    await api.create(NAMESPACES, {"metadata": {"name": name}})
    try:
        yield name
    finally:
        for rt in (CRONJOBS, JOBS):
            for obj in (await api.list(rt, name))["items"]:
                with contextlib.suppress(errors.NotFound):
                    await api.delete(rt, obj["metadata"]["name"], name)
        for pod in (await api.list(PODS, name))["items"]:
            with contextlib.suppress(errors.NotFound):
                await api.patch(PODS, pod["metadata"]["name"], {"metadata": {"finalizers": None}}, name)
                await api.delete(PODS, pod["metadata"]["name"], name, grace_period_seconds=0)
        with contextlib.suppress(errors.NotFound):
            await api.delete(NAMESPACES, name)


@pytest.fixture
def controllers(daemons: Callable[..., supervise.Daemon]) -> Callable[[], supervise.Daemon]:
    """Start a controller-manager running job and cronjob (1 s base back-off between failed pods)."""

    def start() -> supervise.Daemon:
        return daemons(*CONTROLLERS, "--job-backoff-base", "1", name=f"controllers-jobs-{os.urandom(2).hex()}")

    return start


# ---------------------------------------------------------------------- helpers


def job_body(name: str, *, completions: int | None = 1, parallelism: int = 1, **spec: Any) -> Obj:
    body: Obj = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": {
        "parallelism": parallelism,
        "template": {"spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1, "containers": [
            {"name": "main", "image": "busybox:latest", "command": ["sh", "-c", "exit 0"]}]}},
        **spec}}
    if completions is not None:
        body["spec"]["completions"] = completions
    return body


async def pods_of(api: ApiClient, ns: str, job: str) -> list[Obj]:
    items = (await api.list(PODS, ns, label_selector=f"batch.kubernetes.io/job-name={job}"))["items"]
    return sorted(items, key=lambda p: p["metadata"]["creationTimestamp"] + p["metadata"]["name"])


def phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase") or "Pending"


def running(pods: list[Obj]) -> list[Obj]:
    """Pods the Job counts as active: not finished, not being deleted."""
    return [p for p in pods if phase(p) not in ("Succeeded", "Failed") and not p["metadata"].get("deletionTimestamp")]


async def play_kubelet(api: ApiClient, pod: Obj, to: str, exit_code: int = 0) -> None:
    """Write the status a kubelet would: Running and ready, or terminated with `exit_code`."""
    now = timeutil.now()
    containers = pod["spec"]["containers"]
    if to == "Running":
        states = [{"name": c["name"], "image": c["image"], "imageID": "", "ready": True, "restartCount": 0,
                   "started": True, "state": {"running": {"startedAt": now}}} for c in containers]
        conditions = [{"type": "Ready", "status": "True", "lastTransitionTime": now}]
    else:
        reason = "Completed" if exit_code == 0 else "Error"
        states = [{"name": c["name"], "image": c["image"], "imageID": "", "ready": False, "restartCount": 0,
                   "state": {"terminated": {"exitCode": exit_code, "reason": reason, "startedAt": now,
                                            "finishedAt": now}}} for c in containers]
        conditions = [{"type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": now}]
    status = {"phase": to, "conditions": conditions, "containerStatuses": states, "startTime": now}
    await api.patch(PODS, pod["metadata"]["name"], {"status": status}, pod["metadata"]["namespace"],
                    subresource="status")


async def get_job(api: ApiClient, ns: str, name: str) -> Obj:
    return await api.get(JOBS, name, ns)


def condition(obj: Obj, ctype: str) -> Obj | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == ctype), None)


def is_true(obj: Obj, ctype: str) -> bool:
    found = condition(obj, ctype)
    return bool(found and found["status"] == "True")


async def events(api: ApiClient, ns: str, name: str, reason: str | None = None) -> list[Obj]:
    items = (await api.list(EVENTS, ns))["items"]
    return [e for e in items if e["involvedObject"].get("name") == name and (reason is None or e["reason"] == reason)]


async def wait_job(api: ApiClient, ns: str, name: str, check: Callable[[Obj], bool], what: str,
                   timeout: float = 20.0) -> Obj:
    async def probe() -> Obj | None:
        job = await get_job(api, ns, name)
        return job if check(job) else None

    return await eventually(probe, timeout, f"job {name}: {what}")


async def wait_pods(api: ApiClient, ns: str, job: str, check: Callable[[list[Obj]], bool], what: str,
                    timeout: float = 20.0) -> list[Obj]:
    async def probe() -> tuple[list[Obj]] | None:
        pods = await pods_of(api, ns, job)
        return (pods,) if check(pods) else None  # a tuple: an empty list of pods may be what we wait for

    return (await eventually(probe, timeout, f"pods of {job}: {what}"))[0]


# ---------------------------------------------------------------------- Job


async def test_parallelism_is_never_exceeded_and_the_job_completes(api: ApiClient, ns: str, controllers) -> None:
    controllers()
    await api.create(JOBS, job_body("para", completions=3, parallelism=2), ns)
    most_active, most_status_active = 0, 0
    await wait_pods(api, ns, "para", lambda ps: len(ps) == 2, "two pods")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        pods = await pods_of(api, ns, "para")
        job = await get_job(api, ns, "para")
        most_active = max(most_active, len(running(pods)))
        most_status_active = max(most_status_active, (job.get("status") or {}).get("active") or 0)
        if is_true(job, "Complete"):
            break
        assert loop.time() < deadline, f"job never completed: {job.get('status')}"
        for pod in running(pods)[:1]:  # finish one at a time, then look again
            await play_kubelet(api, pod, "Running")
            await play_kubelet(api, pod, "Succeeded")
        await asyncio.sleep(0.3)
    assert most_active <= 2 and most_status_active <= 2
    pods = await pods_of(api, ns, "para")
    assert len(pods) == 3 and all(phase(p) == "Succeeded" for p in pods)
    assert all(FINALIZER not in (p["metadata"].get("finalizers") or []) for p in pods)  # counted, then released
    status = job["status"]
    assert status["succeeded"] == 3 and not status.get("failed") and not status.get("active")
    assert status["uncountedTerminatedPods"] == {} and status["ready"] == 0 and status["terminating"] == 0
    assert status["startTime"] and status["completionTime"]
    met = condition(job, "SuccessCriteriaMet")
    assert met and met["status"] == "True" and met["reason"] == "CompletionsReached"
    assert condition(job, "Complete")["message"] == "Reached expected number of succeeded pods"
    assert len(await events(api, ns, "para", "SuccessfulCreate")) == 3
    assert await eventually(lambda: events(api, ns, "para", "Completed"), 5, "Completed event")
    owner = pods[0]["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "Job" and owner["controller"] is True and owner["uid"] == job["metadata"]["uid"]


async def test_backoff_limit_fails_the_job_after_backoff(api: ApiClient, ns: str, controllers) -> None:
    controllers()
    await api.create(JOBS, job_body("fails", backoffLimit=1), ns)
    first = (await wait_pods(api, ns, "fails", lambda ps: len(ps) == 1, "first pod"))[0]
    await play_kubelet(api, first, "Failed", exit_code=1)
    pods = await wait_pods(api, ns, "fails", lambda ps: len(ps) == 2, "a replacement pod", timeout=15)
    gap = timeutil.seconds_between(first["metadata"]["creationTimestamp"], pods[1]["metadata"]["creationTimestamp"])
    assert gap >= 1, "the replacement came before the back-off"
    await play_kubelet(api, pods[1], "Failed", exit_code=1)
    job = await wait_job(api, ns, "fails", lambda j: is_true(j, "Failed"), "Failed")
    failed = condition(job, "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert failed["message"] == "Job has reached the specified backoff limit"
    assert condition(job, "FailureTarget")["reason"] == "BackoffLimitExceeded"
    assert job["status"]["failed"] == 2 and not job["status"].get("succeeded")
    assert not job["status"].get("completionTime") and not is_true(job, "Complete")
    assert len(await pods_of(api, ns, "fails")) == 2  # finished pods are kept
    assert await eventually(lambda: events(api, ns, "fails", "BackoffLimitExceeded"), 5, "event")


async def test_active_deadline_fails_the_job_and_deletes_its_pods(api: ApiClient, ns: str, controllers) -> None:
    controllers()
    await api.create(JOBS, job_body("late", completions=2, parallelism=2, activeDeadlineSeconds=3), ns)
    pods = await wait_pods(api, ns, "late", lambda ps: len(ps) == 2, "two pods")
    await play_kubelet(api, pods[0], "Running")
    job = await wait_job(api, ns, "late", lambda j: is_true(j, "Failed"), "Failed", timeout=15)
    assert condition(job, "Failed")["reason"] == "DeadlineExceeded"
    assert condition(job, "Failed")["message"] == "Job was active longer than specified deadline"
    assert job["status"]["failed"] == 2 and not job["status"].get("active")  # the killed pods count as failed
    assert timeutil.seconds_between(job["status"]["startTime"], condition(job, "Failed")["lastTransitionTime"]) >= 3
    assert await wait_pods(api, ns, "late", lambda ps: not ps, "active pods deleted") == []
    assert await eventually(lambda: events(api, ns, "late", "DeadlineExceeded"), 5, "event")
    assert len(await events(api, ns, "late", "SuccessfulDelete")) == 2


async def test_suspend_deletes_active_pods_and_resume_recreates_them(api: ApiClient, ns: str, controllers) -> None:
    controllers()
    await api.create(JOBS, job_body("pause", completions=2, parallelism=2), ns)
    await wait_pods(api, ns, "pause", lambda ps: len(ps) == 2, "two pods")
    await api.patch(JOBS, "pause", {"spec": {"suspend": True}}, ns)
    job = await wait_job(api, ns, "pause", lambda j: is_true(j, "Suspended"), "Suspended")
    suspended = condition(job, "Suspended")
    assert suspended["reason"] == "JobSuspended" and suspended["message"] == "Job suspended"
    await wait_pods(api, ns, "pause", lambda ps: not ps, "pods deleted")
    job = await wait_job(api, ns, "pause", lambda j: not (j["status"].get("active")), "active 0")
    assert not job["status"].get("failed")  # deleted for a suspend: not failures
    assert await events(api, ns, "pause", "Suspended")

    await api.patch(JOBS, "pause", {"spec": {"suspend": False}}, ns)
    job = await wait_job(api, ns, "pause", lambda j: (condition(j, "Suspended") or {}).get("status") == "False",
                         "resumed")
    assert condition(job, "Suspended")["reason"] == "JobResumed"
    pods = await wait_pods(api, ns, "pause", lambda ps: len(running(ps)) == 2, "two new pods")
    for pod in pods:
        await play_kubelet(api, pod, "Succeeded")
    job = await wait_job(api, ns, "pause", lambda j: is_true(j, "Complete"), "Complete")
    assert job["status"]["succeeded"] == 2


async def test_indexed_job_gives_each_pod_its_index(api: ApiClient, ns: str, controllers) -> None:
    controllers()
    await api.create(JOBS, job_body("idx", completions=3, parallelism=3, completionMode="Indexed"), ns)
    pods = await wait_pods(api, ns, "idx", lambda ps: len(ps) == 3, "three pods")
    by_index = {int(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]): p for p in pods}
    assert sorted(by_index) == [0, 1, 2]
    for index, pod in by_index.items():
        assert pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == str(index)
        assert pod["metadata"]["name"].startswith(f"idx-{index}-")
        assert pod["spec"]["hostname"] == f"idx-{index}"
        env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
        assert env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == \
            "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    await play_kubelet(api, by_index[1], "Succeeded")
    await wait_job(api, ns, "idx", lambda j: j["status"].get("completedIndexes") == "1", "index 1 done")
    await play_kubelet(api, by_index[0], "Failed", exit_code=1)  # index 0 is retried with a new pod
    pods = await wait_pods(api, ns, "idx", lambda ps: len(ps) == 4, "a replacement for index 0", timeout=15)
    new = next(p for p in pods if p["metadata"]["uid"] not in {x["metadata"]["uid"] for x in by_index.values()})
    assert new["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == "0"
    for pod in (new, by_index[2]):
        await play_kubelet(api, pod, "Succeeded")
    job = await wait_job(api, ns, "idx", lambda j: is_true(j, "Complete"), "Complete")
    assert job["status"]["completedIndexes"] == "0-2"
    assert job["status"]["succeeded"] == 3 and job["status"]["failed"] == 1


async def test_restarted_controller_keeps_counts_and_makes_no_extra_pods(api: ApiClient, ns: str,
                                                                         controllers) -> None:
    manager = controllers()
    await api.create(JOBS, job_body("crash", completions=4, parallelism=2), ns)
    pods = await wait_pods(api, ns, "crash", lambda ps: len(ps) == 2, "two pods")
    await play_kubelet(api, pods[0], "Succeeded")
    counted = pods[0]["metadata"]["uid"]
    await wait_job(api, ns, "crash", lambda j: j["status"].get("succeeded") == 1, "one counted")
    pods = await wait_pods(api, ns, "crash", lambda ps: len(ps) == 3, "a third pod")

    os.kill(manager.pid, signal.SIGKILL)
    await eventually(lambda: asyncio.sleep(0, not supervise.running(manager)), 10, "controller-manager gone")
    for pod in running(pods):  # both finish while nobody counts: they keep their finalizers
        await play_kubelet(api, pod, "Succeeded")
    await asyncio.sleep(0.5)
    uncounted = [p for p in await pods_of(api, ns, "crash") if p["metadata"]["uid"] != counted]
    assert len(uncounted) == 2 and all(phase(p) == "Succeeded" for p in uncounted)
    assert all(FINALIZER in (p["metadata"].get("finalizers") or []) for p in uncounted)

    controllers()
    await wait_job(api, ns, "crash", lambda j: j["status"].get("succeeded") == 3, "three counted", timeout=20)
    pods = await wait_pods(api, ns, "crash", lambda ps: len(ps) == 4, "the last pod")
    await play_kubelet(api, running(pods)[0], "Succeeded")
    job = await wait_job(api, ns, "crash", lambda j: is_true(j, "Complete"), "Complete")
    await asyncio.sleep(1)  # a second chance for a wrong extra pod or a double count to show
    job = await get_job(api, ns, "crash")
    pods = await pods_of(api, ns, "crash")
    assert job["status"]["succeeded"] == 4 and not job["status"].get("failed")
    assert len(pods) == 4 and all(FINALIZER not in (p["metadata"].get("finalizers") or []) for p in pods)


async def test_ttl_after_finished_deletes_the_job(api: ApiClient, ns: str, controllers) -> None:
    controllers()
    await api.create(JOBS, job_body("short", ttlSecondsAfterFinished=1), ns)
    pod = (await wait_pods(api, ns, "short", lambda ps: len(ps) == 1, "a pod"))[0]
    await play_kubelet(api, pod, "Succeeded")

    async def gone() -> bool:
        try:
            await get_job(api, ns, "short")
        except errors.NotFound:
            return True
        return False

    # The TTL is short enough that the Job may be gone before a poll sees it Complete: its Completed
    # event, recorded before the deletion, says it finished first.
    await eventually(gone, 15, "the Job deleted after its TTL")
    assert await events(api, ns, "short", "Completed")


# ---------------------------------------------------------------------- CronJob


def cron_body(name: str, schedule: str = "* * * * *", **spec: Any) -> Obj:
    template = job_body("x")["spec"]
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": schedule, "jobTemplate": {"metadata": {"labels": {"cron": name}}, "spec": template},
                     **spec}}


async def cron_jobs(api: ApiClient, ns: str, cron: str) -> list[Obj]:
    items = (await api.list(JOBS, ns, label_selector=f"cron={cron}"))["items"]
    return sorted(items, key=lambda j: j["metadata"]["name"])


async def seed_last_schedule(api: ApiClient, ns: str, name: str, when: datetime) -> None:
    """Pretend the controller last ran this CronJob at `when` (as after a long outage): write the status."""
    for _ in range(20):
        cj = await api.get(CRONJOBS, name, ns)
        cj["status"] = {**(cj.get("status") or {}), "lastScheduleTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
        try:
            await api.replace_status(CRONJOBS, cj)
            return
        except errors.Conflict:
            await asyncio.sleep(0.1)
    raise AssertionError("could not seed lastScheduleTime")


async def finish_job(api: ApiClient, ns: str, job: str) -> None:
    pod = (await wait_pods(api, ns, job, lambda ps: len(running(ps)) == 1, "its pod"))[0]
    await play_kubelet(api, running([pod])[0], "Succeeded")
    await wait_job(api, ns, job, lambda j: is_true(j, "Complete"), "Complete")


async def test_cronjob_schedules_concurrency_and_history(api: ApiClient, ns: str, controllers) -> None:
    """One minute boundary serves every case: runs missed before it start at once (seeded status), and
    the boundary itself is the next run."""
    controllers()
    now = datetime.now(UTC)
    if now.second >= 50:  # too close to the boundary to look at the state in between: wait it out
        await asyncio.sleep(61 - now.second)
        now = datetime.now(UTC)
    minute = now.replace(second=0, microsecond=0)  # the most recent schedule time
    for name, spec in (("allow", {"successfulJobsHistoryLimit": 1}), ("forbid", {"concurrencyPolicy": "Forbid"}),
                       ("replace", {"concurrencyPolicy": "Replace"}), ("lazy", {"suspend": True}),
                       ("catchup", {})):
        await api.create(CRONJOBS, cron_body(name, **spec), ns)
    for name in ("allow", "forbid", "replace", "lazy"):
        await seed_last_schedule(api, ns, name, minute - timedelta(minutes=2))
    await seed_last_schedule(api, ns, "catchup", minute - timedelta(hours=3))

    expected = f"-{int(minute.timestamp()) // 60}"
    for name in ("allow", "forbid", "replace", "catchup"):
        jobs = await eventually(lambda n=name: cron_jobs(api, ns, n), 10, f"{name}: the missed run")
        assert [j["metadata"]["name"] for j in jobs] == [name + expected]
        job = jobs[0]
        assert job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == \
            minute.strftime("%Y-%m-%dT%H:%M:%SZ")
        owner = job["metadata"]["ownerReferences"][0]
        assert owner["kind"] == "CronJob" and owner["name"] == name and owner["controller"] is True
        cj = await eventually(lambda n=name: _with_active(api, ns, n), 10, f"{name}: status.active")
        assert cj["status"]["active"][0]["name"] == job["metadata"]["name"]
        assert cj["status"]["active"][0]["uid"] == job["metadata"]["uid"]
        assert cj["status"]["lastScheduleTime"] == minute.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await cron_jobs(api, ns, "lazy") == []
    assert await eventually(lambda: events(api, ns, "catchup", "TooManyMissedTimes"), 5, "TooManyMissedTimes")
    assert await events(api, ns, "allow", "SuccessfulCreate")

    await finish_job(api, ns, "allow" + expected)
    cj = await eventually(lambda: _without_active(api, ns, "allow"), 10, "allow: the run seen completed")
    assert cj["status"]["lastSuccessfulTime"]
    assert await events(api, ns, "allow", "SawCompletedJob")

    # The next minute: allow runs again and prunes its oldest success; forbid waits; replace replaces.
    following = minute + timedelta(minutes=1)
    second = f"-{int(following.timestamp()) // 60}"
    await eventually(lambda: _job_exists(api, ns, "allow" + second), 75, "allow: the next run")
    await finish_job(api, ns, "allow" + second)
    await eventually(lambda: _names_are(api, ns, "allow", ["allow" + second]), 10, "allow: history pruned to 1")
    assert await eventually(lambda: events(api, ns, "allow", "SuccessfulDelete"), 5, "SuccessfulDelete")

    await eventually(lambda: events(api, ns, "forbid", "JobAlreadyActive"), 10, "forbid: JobAlreadyActive")
    assert [j["metadata"]["name"] for j in await cron_jobs(api, ns, "forbid")] == ["forbid" + expected]

    await eventually(lambda: _names_are(api, ns, "replace", ["replace" + second]), 10, "replace: old run replaced")
    cj = await api.get(CRONJOBS, "replace", ns)
    assert [r["name"] for r in cj["status"]["active"]] == ["replace" + second]
    assert await cron_jobs(api, ns, "lazy") == []


async def _with_active(api: ApiClient, ns: str, name: str) -> Obj | None:
    cj = await api.get(CRONJOBS, name, ns)
    return cj if (cj.get("status") or {}).get("active") else None


async def _without_active(api: ApiClient, ns: str, name: str) -> Obj | None:
    cj = await api.get(CRONJOBS, name, ns)
    status = cj.get("status") or {}
    return cj if not status.get("active") and status.get("lastSuccessfulTime") else None


async def _job_exists(api: ApiClient, ns: str, name: str) -> bool:
    try:
        await get_job(api, ns, name)
    except errors.NotFound:
        return False
    return True


async def _names_are(api: ApiClient, ns: str, cron: str, names: list[str]) -> bool:
    jobs = [j for j in await cron_jobs(api, ns, cron) if not j["metadata"].get("deletionTimestamp")]
    return [j["metadata"]["name"] for j in jobs] == names


async def test_kubectl_create_job_from_cronjob(api: ApiClient, ns: str, controllers, kubeconfig: Path) -> None:
    from tests.e2e.test_kubectl import kubectl_binary

    controllers()
    await api.create(CRONJOBS, cron_body("nightly", "0 3 * * *"), ns)
    proc = subprocess.run([kubectl_binary(), "create", "job", "manual", "--from=cronjob/nightly", "-n", ns],
                          capture_output=True, text=True, env={**os.environ, "KUBECONFIG": str(kubeconfig)},
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "job.batch/manual created" in proc.stdout
    job = await get_job(api, ns, "manual")
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"][0]["name"] == "nightly"
    await finish_job(api, ns, "manual")  # the Job controller runs it like any other
    assert await eventually(lambda: events(api, ns, "nightly", "UnexpectedJob"), 5, "UnexpectedJob")


# ---------------------------------------------------------------------- real pods


async def test_real_busybox_pods_through_a_kubelet(api: ApiClient, admin: kubeconfig.ClusterCredentials, ns: str,
                                                   controllers, run_id: str,
                                                   daemons: Callable[..., supervise.Daemon]) -> None:
    node = f"jobnode-{run_id}"
    kubelet = daemons("kubelet", "--node-name", node, "--heartbeat-interval", "1", "--sync-interval", "1",
                      name=f"kubelet-{node}")
    supervise.wait_for(lambda: supervise.node_ready(admin, node), 30, f"node {node} Ready", kubelet)
    controllers()
    try:
        ok = job_body("real-ok", completions=2, parallelism=2)
        ok["spec"]["template"]["spec"]["nodeName"] = node
        await api.create(JOBS, ok, ns)
        bad = job_body("real-bad", backoffLimit=1)
        bad["spec"]["template"]["spec"]["nodeName"] = node
        bad["spec"]["template"]["spec"]["containers"][0]["command"] = ["sh", "-c", "exit 1"]
        await api.create(JOBS, bad, ns)

        job = await wait_job(api, ns, "real-ok", lambda j: is_true(j, "Complete"), "Complete", timeout=60)
        assert job["status"]["succeeded"] == 2
        pods = await pods_of(api, ns, "real-ok")
        assert len(pods) == 2 and all(phase(p) == "Succeeded" for p in pods)
        job = await wait_job(api, ns, "real-bad", lambda j: is_true(j, "Failed"), "Failed", timeout=60)
        assert condition(job, "Failed")["reason"] == "BackoffLimitExceeded" and job["status"]["failed"] == 2
        codes = [s["state"]["terminated"]["exitCode"] for p in await pods_of(api, ns, "real-bad")
                 for s in p["status"]["containerStatuses"]]
        assert codes == [1, 1]
    finally:
        for pod in (await api.list(PODS, ns))["items"]:
            with contextlib.suppress(errors.NotFound):
                await api.patch(PODS, pod["metadata"]["name"], {"metadata": {"finalizers": None}}, ns)
                await api.delete(PODS, pod["metadata"]["name"], ns, grace_period_seconds=0)
        with contextlib.suppress(errors.ApiError):
            await eventually(lambda: _no_pods(api, ns), 20, "pods removed by the kubelet")
        with contextlib.suppress(errors.NotFound):
            await api.delete(NODES, node)


async def _no_pods(api: ApiClient, ns: str) -> bool:
    return not (await api.list(PODS, ns))["items"]
