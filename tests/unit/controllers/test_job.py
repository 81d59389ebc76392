"""Job controller: how many pods to run, which to delete, when a pod counts as failed, the pod-failure
back-off (10 s doubling, capped), completion-index bookkeeping, conditions, and the counting protocol
through status.uncountedTerminatedPods and the job-tracking finalizer, including the states a crash
between two of its steps leaves behind (resumed without counting anything twice)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controllers import job as jobctl
from controllers import jobutil
from controllers.jobutil import TRACKING_FINALIZER, BackoffRecord
from kube.resources import JOBS, PODS
from tests.unit.controllers.batch_fakes import cache, context, sync_cache

Obj = dict[str, Any]
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
UID_LABEL = "batch.kubernetes.io/controller-uid"


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def job(name: str = "pi", *, completions: int | None = 3, parallelism: int = 2, status: Obj | None = None,
        **spec: Any) -> Obj:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "ns", "uid": "job-uid", "resourceVersion": "1",
                         "creationTimestamp": stamp(NOW - timedelta(minutes=1))},
            "spec": {"completions": completions, "parallelism": parallelism, "backoffLimit": 6,
                     "completionMode": "NonIndexed", "suspend": False,
                     "podReplacementPolicy": "TerminatingOrFailed",
                     "selector": {"matchLabels": {UID_LABEL: "job-uid"}},
                     "template": {"metadata": {"labels": {UID_LABEL: "job-uid", "job-name": name}},
                                  "spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "main", "image": "busybox"}]}},
                     **spec},
            "status": status or {}}


def pod(name: str, phase: str = "Pending", *, finalizer: bool = True, index: int | None = None,
        finished: datetime | None = None, deleting: bool = False, ready: bool = False, node: str | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "uid": f"{name}-uid", "resourceVersion": "2",
                 "creationTimestamp": stamp(NOW - timedelta(seconds=30)),
                 "labels": {UID_LABEL: "job-uid"}, "annotations": {},
                 "finalizers": [TRACKING_FINALIZER] if finalizer else [],
                 "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "pi", "uid": "job-uid",
                                      "controller": True}]}
    if index is not None:
        meta["annotations"][jobutil.COMPLETION_INDEX_ANNOTATION] = str(index)
    if deleting:
        meta["deletionTimestamp"] = stamp(NOW)
    status: Obj = {"phase": phase}
    if finished is not None:
        status["containerStatuses"] = [{"name": "main", "state": {"terminated": {
            "exitCode": 0 if phase == "Succeeded" else 1, "finishedAt": stamp(finished)}}}]
    if ready:
        status["conditions"] = [{"type": "Ready", "status": "True"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "main"}], **({"nodeName": node} if node else {})}, "status": status}


# ---------------------------------------------------------------------- pure decisions


@pytest.mark.parametrize(("completions", "parallelism", "active", "succeeded", "wanted"), [
    (3, 2, 0, 0, 2),
    (3, 2, 2, 2, 1),  # only one completion left
    (3, 2, 0, 3, 0),
    (None, 2, 0, 0, 2),  # a work queue: parallelism until the first success...
    (None, 2, 1, 1, 1),  # ...then let the running ones finish, start none
    (5, 0, 0, 0, 0),
], ids=["start", "last-completion", "done", "workqueue-start", "workqueue-draining", "parallelism-zero"])
def test_want_active(completions: int | None, parallelism: int, active: int, succeeded: int, wanted: int) -> None:
    assert jobctl.want_active(job(completions=completions, parallelism=parallelism), active, succeeded) == wanted


def test_pods_for_removal_prefers_least_advanced_pods() -> None:
    pods = [pod("running", "Running", ready=True, node="n1"), pod("pending"), pod("scheduled", node="n1")]
    assert [p["metadata"]["name"] for p in jobctl.pods_for_removal(job(), pods, 2)] == ["pending", "scheduled"]
    assert jobctl.pods_for_removal(job(), pods, 0) == []


def test_pods_for_removal_indexed_drops_duplicates_and_bad_indexes_first() -> None:
    indexed = job(completions=3, completionMode="Indexed")
    pods = [pod("a0", "Running", index=0, ready=True, node="n"), pod("b0", index=0), pod("c5", index=5),
            pod("none"), pod("d1", index=1)]
    names = {p["metadata"]["name"] for p in jobctl.pods_for_removal(indexed, pods, 0)}
    assert names == {"b0", "c5", "none"}  # the running copy of index 0 stays


@pytest.mark.parametrize(("kwargs", "policy", "failed"), [
    ({"phase": "Failed"}, "TerminatingOrFailed", True),
    ({"phase": "Running", "deleting": True}, "TerminatingOrFailed", True),  # deleted before it could fail
    ({"phase": "Succeeded", "deleting": True}, "TerminatingOrFailed", False),
    ({"phase": "Running", "deleting": True}, "Failed", False),  # podReplacementPolicy Failed waits for the phase
    ({"phase": "Running"}, "TerminatingOrFailed", False),
], ids=["failed", "deleted-running", "deleted-succeeded", "policy-failed", "running"])
def test_is_pod_failed(kwargs: Obj, policy: str, failed: bool) -> None:
    phase = kwargs.pop("phase")
    assert jobctl.is_pod_failed(pod("p", phase, **kwargs), job(podReplacementPolicy=policy)) is failed


def test_past_backoff_limit_on_failure_counts_container_restarts() -> None:
    on_failure = job(backoffLimit=2)
    on_failure["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    running = pod("p", "Running")
    running["status"]["containerStatuses"] = [{"name": "main", "restartCount": 1}]
    assert not jobctl.past_backoff_limit_on_failure(on_failure, [running])
    running["status"]["containerStatuses"][0]["restartCount"] = 2
    assert jobctl.past_backoff_limit_on_failure(on_failure, [running])
    assert not jobctl.past_backoff_limit_on_failure(job(backoffLimit=2), [running])  # restartPolicy Never


def test_indexed_generate_name_is_cut_to_fit() -> None:
    assert jobctl.indexed_generate_name("pi", 7) == "pi-7-"
    long = jobctl.indexed_generate_name("x" * 70, 12)
    assert len(long) == jobctl.MAX_GENERATED_NAME and long.endswith("-12-")


def test_status_for_write_omits_zero_counters_but_keeps_ready_and_terminating() -> None:
    out = jobctl.status_for_write({"active": 0, "succeeded": 2, "failed": 0, "ready": 0, "terminating": 0,
                                   "conditions": [], "completedIndexes": "",
                                   "uncountedTerminatedPods": {"succeeded": [], "failed": ["u"]}})
    assert out == {"succeeded": 2, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {"failed": ["u"]}}


# ---------------------------------------------------------------------- jobutil


@pytest.mark.parametrize(("text", "completions", "indexes", "again"), [
    ("", 3, set(), ""),
    ("1", 3, {1}, "1"),
    ("0-2,5,7-8", 10, {0, 1, 2, 5, 7, 8}, "0-2,5,7-8"),
    ("3-4", 10, {3, 4}, "3-4"),
    ("1,4-9", 6, {1, 4, 5}, "1,4-5"),  # beyond completions: ignored
])
def test_completed_indexes_round_trip(text: str, completions: int, indexes: set[int], again: str) -> None:
    assert jobutil.parse_indexes(text, completions) == indexes
    assert jobutil.format_indexes(indexes) == again


def test_ensure_condition_adds_updates_and_never_adds_false() -> None:
    conditions: list[Obj] = []
    assert not jobutil.ensure_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed", "t0")
    assert conditions == []
    assert jobutil.ensure_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended", "t1")
    assert not jobutil.ensure_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended", "t2")
    assert jobutil.ensure_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed", "t3")
    assert conditions == [{"type": "Suspended", "status": "False", "reason": "JobResumed", "message": "Job resumed",
                           "lastProbeTime": "t3", "lastTransitionTime": "t3"}]


def test_finished_means_complete_or_failed_true() -> None:
    interim = {"status": {"conditions": [{"type": "FailureTarget", "status": "True"}]}}
    assert not jobutil.is_finished(interim)
    done = {"status": {"conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": stamp(NOW)}]}}
    assert jobutil.is_finished(done) and jobutil.is_succeeded(done)
    assert jobutil.finish_time(done) == NOW


def test_pod_finished_time_lookups() -> None:
    assert jobutil.pod_finished_time(pod("p", "Failed", finished=NOW)) == NOW
    not_ready = pod("p", "Failed")
    not_ready["status"]["conditions"] = [{"type": "Ready", "status": "False",
                                          "lastTransitionTime": stamp(NOW - timedelta(seconds=5))}]
    assert jobutil.pod_finished_time(not_ready) == NOW - timedelta(seconds=5)
    deleted = pod("p", "Running", deleting=True)
    deleted["metadata"]["deletionGracePeriodSeconds"] = 30
    assert jobutil.pod_finished_time(deleted) == NOW - timedelta(seconds=30)
    assert jobutil.pod_finished_time(pod("p")) == NOW - timedelta(seconds=30)  # creation


def test_backoff_doubles_from_the_base_and_is_capped() -> None:
    delays = [BackoffRecord(n, NOW).remaining(NOW, 10, 360) for n in range(0, 8)]
    assert delays == [0, 10, 20, 40, 80, 160, 320, 360]
    assert BackoffRecord(2, NOW).remaining(NOW + timedelta(seconds=15), 10, 360) == 5
    assert BackoffRecord(2, NOW).remaining(NOW + timedelta(seconds=25), 10, 360) == 0


def test_backoff_record_counts_failures_since_the_last_success() -> None:
    record = BackoffRecord().after([], [pod("a", "Failed", finished=NOW), pod("b", "Failed", finished=NOW)])
    assert record == BackoffRecord(2, NOW)
    assert record.after([], []) == record
    assert record.after([pod("s", "Succeeded", finished=NOW)], []) == BackoffRecord()
    later = NOW + timedelta(seconds=9)
    mixed = record.after([pod("s", "Succeeded", finished=NOW + timedelta(seconds=5))],
                         [pod("c", "Failed", finished=NOW + timedelta(seconds=1)), pod("d", "Failed", finished=later)])
    assert mixed == BackoffRecord(1, later)  # only the failure after the success counts


# ---------------------------------------------------------------------- sync, with a fake apiserver


def controller(**options: Any) -> tuple[jobctl.JobController, Any, Any]:
    ctx, client, recorder = context(**options)
    ctl = jobctl.JobController(ctx)
    ctl.clock = lambda: NOW
    return ctl, client, recorder


def load(ctl: jobctl.JobController, client: Any, the_job: Obj, *pods: Obj) -> None:
    """Store objects on the fake server and show them to the caches."""
    client.put(JOBS, the_job)
    for p in pods:
        client.put(PODS, p)
    sync_cache(ctl.informer, client)
    sync_cache(ctl.pods, client)


def server_job(client: Any) -> Obj:
    return client.objects[("jobs", "ns", "pi")]


def server_pod(client: Any, name: str) -> Obj:
    return client.objects[("pods", "ns", name)]


async def test_creates_pods_up_to_parallelism_with_the_tracking_finalizer() -> None:
    ctl, client, recorder = controller()
    load(ctl, client, job(completions=3, parallelism=2))
    await ctl.sync("ns/pi")
    pods = [o for (kind, _, _), o in client.objects.items() if kind == "pods"]
    assert len(pods) == 2
    for p in pods:
        assert p["metadata"]["finalizers"] == [TRACKING_FINALIZER]
        assert p["metadata"]["generateName"] == "pi-"
        assert p["metadata"]["ownerReferences"][0]["uid"] == "job-uid"
    assert recorder.reasons().count("SuccessfulCreate") == 2
    status = server_job(client)["status"]
    assert status["active"] == 2 and status["startTime"] == stamp(NOW) and status["ready"] == 0


async def test_a_finished_pod_is_listed_uncounted_then_released_then_counted() -> None:
    ctl, client, _ = controller()
    load(ctl, client, job(completions=2, parallelism=1), pod("p1", "Succeeded", finished=NOW))
    await ctl.sync("ns/pi")
    first, last = client.status_writes[0], client.status_writes[-1]
    assert first["uncountedTerminatedPods"] == {"succeeded": ["p1-uid"]} and "succeeded" not in first
    assert last["uncountedTerminatedPods"] == {} and last["succeeded"] == 1
    steps = [c for c in client.calls if c[0] in ("status", "patch")]
    assert steps == [("status", "jobs", "pi"), ("patch", "pods", "p1"), ("status", "jobs", "pi")]
    assert server_pod(client, "p1")["metadata"]["finalizers"] == []
    assert last["active"] == 1  # and the second completion got its pod


async def test_crash_after_the_finalizer_went_counts_the_pod_once() -> None:
    ctl, client, _ = controller()
    status = {"succeeded": 1, "uncountedTerminatedPods": {"succeeded": ["p2-uid"]}, "startTime": stamp(NOW)}
    load(ctl, client, job(completions=3, parallelism=1, status=status),
         pod("p1", "Succeeded", finalizer=False), pod("p2", "Succeeded", finalizer=False))
    await ctl.sync("ns/pi")
    final = server_job(client)["status"]
    assert final["succeeded"] == 2 and final["uncountedTerminatedPods"] == {}
    assert ("patch", "pods", "p2") not in client.calls


async def test_crash_before_the_finalizer_went_does_not_list_the_pod_twice() -> None:
    ctl, client, _ = controller()
    status = {"uncountedTerminatedPods": {"failed": ["p1-uid"]}, "startTime": stamp(NOW)}
    load(ctl, client, job(completions=1, parallelism=1, status=status),
         pod("p1", "Failed", finished=NOW - timedelta(minutes=5)))
    await ctl.sync("ns/pi")
    assert all(w["uncountedTerminatedPods"].get("failed", []) in ([], ["p1-uid"]) for w in client.status_writes)
    final = server_job(client)["status"]
    assert final["failed"] == 1 and final["uncountedTerminatedPods"] == {}


async def test_a_lagging_pod_cache_never_counts_a_pod_twice() -> None:
    ctl, client, _ = controller()
    load(ctl, client, job(completions=3, parallelism=1), pod("p1", "Succeeded", finished=NOW))
    await ctl.sync("ns/pi")
    assert server_job(client)["status"]["succeeded"] == 1
    stale_pods = [copy.deepcopy(p) for p in ctl.pods.list()]
    await ctl.sync("ns/pi")  # the Job cache still holds the old status: the sync waits for it
    assert server_job(client)["status"]["succeeded"] == 1
    sync_cache(ctl.informer, client)  # the Job cache catches up, the pod cache (finalizer still on) has not
    for obj in stale_pods:
        cache(ctl.pods, obj)
    await ctl.sync("ns/pi")
    assert server_job(client)["status"]["succeeded"] == 1


async def test_a_failed_pod_is_replaced_only_after_the_backoff() -> None:
    ctl, client, _ = controller(job_backoff_base=10)
    load(ctl, client, job(completions=1, parallelism=1), pod("p1", "Failed", finished=NOW - timedelta(seconds=2)))
    await ctl.sync("ns/pi")
    assert server_job(client)["status"]["failed"] == 1
    assert not [c for c in client.calls if c[0] == "create"]
    sync_cache(ctl.informer, client)
    sync_cache(ctl.pods, client)
    ctl.clock = lambda: NOW + timedelta(seconds=5)
    await ctl.sync("ns/pi")
    assert not [c for c in client.calls if c[0] == "create"]
    ctl.clock = lambda: NOW + timedelta(seconds=9)
    await ctl.sync("ns/pi")
    assert len([c for c in client.calls if c[0] == "create"]) == 1


async def test_backoff_limit_writes_failure_target_then_failed() -> None:
    ctl, client, recorder = controller()
    load(ctl, client, job(completions=1, parallelism=1, backoffLimit=0), pod("p1", "Failed", finished=NOW))
    await ctl.sync("ns/pi")
    status = server_job(client)["status"]
    kinds = [(c["type"], c["reason"]) for c in status["conditions"]]
    assert kinds == [("FailureTarget", "BackoffLimitExceeded"), ("Failed", "BackoffLimitExceeded")]
    assert status["failed"] == 1 and "completionTime" not in status
    assert ("pi", "BackoffLimitExceeded", "Job has reached the specified backoff limit") in recorder.events
    assert not [c for c in client.calls if c[0] == "create"]


async def test_deadline_exceeded_deletes_active_pods_and_counts_them_failed() -> None:
    ctl, client, recorder = controller()
    status = {"startTime": stamp(NOW - timedelta(seconds=11)), "active": 1}
    load(ctl, client, job(completions=1, parallelism=1, activeDeadlineSeconds=10, status=status),
         pod("p1", "Running", node="n1"))
    await ctl.sync("ns/pi")
    status = server_job(client)["status"]
    assert [c["type"] for c in status["conditions"]] == ["FailureTarget"]  # p1 was still terminating
    assert status["failed"] == 1 and status["terminating"] == 1 and "active" not in status
    assert ("pods", "ns", "p1") not in client.objects  # deleted (the fake has no grace period)
    sync_cache(ctl.informer, client)
    sync_cache(ctl.pods, client)
    await ctl.sync("ns/pi")
    status = server_job(client)["status"]
    assert [(c["type"], c["reason"]) for c in status["conditions"]] == [
        ("FailureTarget", "DeadlineExceeded"), ("Failed", "DeadlineExceeded")]
    assert "DeadlineExceeded" in recorder.reasons()


async def test_completion_writes_success_criteria_met_then_complete() -> None:
    ctl, client, recorder = controller()
    load(ctl, client, job(completions=1, parallelism=1), pod("p1", "Succeeded", finished=NOW))
    await ctl.sync("ns/pi")
    status = server_job(client)["status"]
    assert [(c["type"], c["reason"]) for c in status["conditions"]] == [
        ("SuccessCriteriaMet", "CompletionsReached"), ("Complete", "CompletionsReached")]
    assert status["completionTime"] == stamp(NOW) and status["succeeded"] == 1
    assert ("pi", "Completed", "Job completed") in recorder.events


async def test_suspend_deletes_active_pods_without_counting_them() -> None:
    ctl, client, recorder = controller()
    load(ctl, client, job(suspend=True, status={"startTime": stamp(NOW), "active": 2}),
         pod("p1", "Running", ready=True, node="n"), pod("p2"))
    await ctl.sync("ns/pi")
    status = server_job(client)["status"]
    assert not [k for k in client.objects if k[0] == "pods"]
    assert "failed" not in status and "active" not in status  # zero counters are omitted
    suspended = jobutil.find_condition(status, "Suspended")
    assert (suspended["status"], suspended["reason"]) == ("True", "JobSuspended")
    assert recorder.reasons().count("SuccessfulDelete") == 2 and "Suspended" in recorder.reasons()


async def test_indexed_job_creates_the_missing_indexes() -> None:
    ctl, client, _ = controller()
    indexed = job(completions=4, parallelism=3, completionMode="Indexed")
    load(ctl, client, indexed, pod("done", "Succeeded", index=1, finished=NOW), pod("run", "Running", index=0))
    await ctl.sync("ns/pi")
    created = [o for (kind, _, name), o in client.objects.items() if kind == "pods" and name not in ("done", "run")]
    assert sorted(int(p["metadata"]["annotations"][jobutil.COMPLETION_INDEX_ANNOTATION]) for p in created) == [2, 3]
    for p in created:
        index = p["metadata"]["annotations"][jobutil.COMPLETION_INDEX_ANNOTATION]
        assert p["metadata"]["labels"][jobutil.COMPLETION_INDEX_ANNOTATION] == index
        assert p["spec"]["hostname"] == f"pi-{index}" and p["metadata"]["generateName"] == f"pi-{index}-"
        assert p["spec"]["containers"][0]["env"][0]["name"] == "JOB_COMPLETION_INDEX"
    status = server_job(client)["status"]
    assert status["completedIndexes"] == "1" and status["succeeded"] == 1
    assert "succeeded" not in status["uncountedTerminatedPods"]  # an index, not a uid, records it


async def test_orphaned_pods_lose_the_finalizer() -> None:
    ctl, client, _ = controller()
    load(ctl, client, job(), pod("left", "Running"))
    del client.objects[("jobs", "ns", "pi")]
    sync_cache(ctl.informer, client)  # the Job is gone
    await ctl.sync_orphan("ns/left")
    assert server_pod(client, "left")["metadata"]["finalizers"] == []


async def test_a_matching_orphan_is_adopted_with_the_finalizer_in_one_patch() -> None:
    ctl, client, _ = controller()
    manual = job(completions=1, parallelism=1, manualSelector=True, selector={"matchLabels": {"app": "x"}})
    orphan = pod("stray", "Succeeded", finalizer=False, finished=NOW)
    orphan["metadata"]["ownerReferences"] = []
    orphan["metadata"]["labels"] = {"app": "x"}
    load(ctl, client, manual, orphan)
    await ctl.sync("ns/pi")
    patches = [c for c in client.calls if c == ("patch", "pods", "stray")]
    assert len(patches) == 2  # adopted (owner reference and finalizer together), then released once counted
    adopted = server_pod(client, "stray")["metadata"]
    assert adopted["ownerReferences"][0]["uid"] == "job-uid" and adopted["finalizers"] == []
    assert server_job(client)["status"]["succeeded"] == 1
    assert not [c for c in client.calls if c[0] == "create"]  # the adopted success is the completion
