"""CronJob controller: schedule parsing (fields, macros, `?`, time zones), the most recent unmet schedule
time at fixed instants (creation, lastScheduleTime, startingDeadlineSeconds, many missed runs), the exact
requeue delay, deterministic Job names and the Job made from the template, which finished Jobs the
history limits prune, and a sync that finds its own Job already created (a restart) and records it
instead of creating another."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from controllers import cronjob as cron
from controllers import jobutil
from kube.resources import CRONJOBS, JOBS
from tests.unit.controllers.batch_fakes import context, sync_cache

Obj = dict[str, Any]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def cronjob(schedule: str = "* * * * *", *, created: str = "2026-01-01T10:00:30", last: str | None = None,
            **spec: Any) -> Obj:
    status = {"lastScheduleTime": stamp(at(last))} if last else {}
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "tick", "namespace": "ns", "uid": "cj-uid", "resourceVersion": "1",
                         "creationTimestamp": stamp(at(created))},
            "spec": {"schedule": schedule, "concurrencyPolicy": "Allow", "suspend": False,
                     "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                     "jobTemplate": {"metadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}},
                                     "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "b"}],
                                                                    "restartPolicy": "Never"}}}},
                     **spec},
            "status": status}


# ---------------------------------------------------------------------- parsing


@pytest.mark.parametrize(("schedule", "after", "expected"), [
    ("* * * * *", "2026-01-01T10:00:00", "2026-01-01T10:01:00"),  # strictly after
    ("*/15 * * * *", "2026-01-01T10:07:59", "2026-01-01T10:15:00"),
    ("@hourly", "2026-01-01T10:00:30", "2026-01-01T11:00:00"),
    ("@daily", "2026-01-01T10:00:00", "2026-01-02T00:00:00"),
    ("0 9 ? * MON", "2026-01-01T00:00:00", "2026-01-05T09:00:00"),  # ? is "any"; 2026-01-05 is a Monday
])
def test_schedule_next(schedule: str, after: str, expected: str) -> None:
    assert cron.parse_schedule(schedule).next(at(after)) == at(expected)


def test_schedule_in_a_time_zone_follows_daylight_saving() -> None:
    paris = cron.parse_schedule("0 9 * * *", "Europe/Paris")
    assert paris.next(at("2026-01-10T00:00:00")) == at("2026-01-10T08:00:00")  # CET, UTC+1
    assert paris.next(at("2026-07-10T00:00:00")) == at("2026-07-10T07:00:00")  # CEST, UTC+2
    assert cron.parse_schedule("TZ=Europe/Paris 0 9 * * *").next(at("2026-07-10T00:00:00")) == \
        at("2026-07-10T07:00:00")


@pytest.mark.parametrize(("schedule", "zone"), [
    ("* * * *", None), ("61 * * * *", None), ("@fortnightly", None), ("not a schedule", None),
    ("* * * * *", "Mars/Olympus_Mons"),
])
def test_bad_schedules_and_zones_are_refused(schedule: str, zone: str | None) -> None:
    with pytest.raises(ValueError):
        cron.parse_schedule(schedule, zone)


# ---------------------------------------------------------------------- the most recent unmet time


EVERY_MINUTE = cron.parse_schedule("* * * * *")


@pytest.mark.parametrize(("spec", "now", "recent", "missed"), [
    ({}, "2026-01-01T10:00:50", None, 0),  # created 10:00:30: nothing due before 10:01
    ({}, "2026-01-01T10:01:05", "2026-01-01T10:01:00", 0),
    ({}, "2026-01-01T10:05:10", "2026-01-01T10:05:00", 5),  # several missed: only the latest runs
    ({"last": "2026-01-01T10:05:00"}, "2026-01-01T10:05:40", None, 0),  # already ran at 10:05
    ({"last": "2026-01-01T10:00:00", "startingDeadlineSeconds": 60}, "2026-01-01T10:30:30",
     "2026-01-01T10:30:00", 0),
    ({"last": "2026-01-01T10:00:00", "startingDeadlineSeconds": 10}, "2026-01-01T10:30:30", None, 0),  # too late
], ids=["not-yet", "due", "missed-several", "done", "within-deadline", "beyond-deadline"])
def test_most_recent_schedule_time(spec: Obj, now: str, recent: str | None, missed: int) -> None:
    _, found, count = cron.most_recent_schedule_time(cronjob(**spec), at(now), EVERY_MINUTE)
    assert found == (at(recent) if recent else None)
    assert count == missed


def test_many_missed_runs_are_counted_without_walking_them() -> None:
    _, found, missed = cron.most_recent_schedule_time(cronjob(last="2025-01-01T00:00:00"),
                                                      at("2026-01-01T10:00:30"), EVERY_MINUTE)
    assert found == at("2026-01-01T10:00:00") and missed > cron.MANY_MISSED


def test_a_schedule_that_never_fires_is_an_error() -> None:
    with pytest.raises(ValueError):
        cron.most_recent_schedule_time(cronjob(), at("2026-06-01T00:00:00"), cron.parse_schedule("0 0 31 2 *"))


@pytest.mark.parametrize(("schedule", "spec", "now", "delay"), [
    ("* * * * *", {"last": "2026-01-01T10:05:00"}, "2026-01-01T10:05:00.200", 59.9),  # just ran: next minute
    ("* * * * *", {}, "2026-01-01T10:00:45", 15.1),  # nothing ran yet: the first time after creation
    ("* * * * *", {}, "2026-01-01T10:07:20", 40.1),  # runs were missed: the next time after now
    ("@hourly", {"last": "2026-01-01T08:00:00"}, "2026-01-01T10:20:00", 40 * 60 + 0.1),
], ids=["after-a-run", "fresh", "missed", "hourly"])
def test_next_schedule_delay(schedule: str, spec: Obj, now: str, delay: float) -> None:
    instant = datetime.fromisoformat(now).replace(tzinfo=UTC)
    assert cron.next_schedule_delay(cronjob(**spec), instant, cron.parse_schedule(schedule)) == pytest.approx(delay)


# ---------------------------------------------------------------------- Jobs from the template


def test_job_name_is_the_scheduled_minute_since_the_epoch() -> None:
    when = at("2026-01-01T10:05:00")
    assert cron.job_name(cronjob(), when) == f"tick-{int(when.timestamp()) // 60}" == "tick-29454365"


def test_job_from_template_copies_metadata_and_marks_the_scheduled_time() -> None:
    when = at("2026-07-01T07:00:00")
    job = cron.job_from_template(cronjob(), when)
    meta = job["metadata"]
    assert meta["name"] == cron.job_name(cronjob(), when) and meta["namespace"] == "ns"
    assert meta["labels"] == {"team": "a"}
    assert meta["annotations"] == {"note": "x", jobutil.CRONJOB_SCHEDULED_ANNOTATION: "2026-07-01T07:00:00Z"}
    assert meta["ownerReferences"] == [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "tick",
                                        "uid": "cj-uid", "controller": True, "blockOwnerDeletion": True}]
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "b"
    local = cron.job_from_template(cronjob(), when, ZoneInfo("Europe/Paris"))
    assert local["metadata"]["annotations"][jobutil.CRONJOB_SCHEDULED_ANNOTATION] == "2026-07-01T09:00:00+02:00"


def finished_job(name: str, kind: str | None, start: str | None) -> Obj:
    status: Obj = {}
    if start:
        status["startTime"] = start
    if kind:
        status["conditions"] = [{"type": kind, "status": "True"}]
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"{name}-uid"}, "status": status}


def test_history_limits_prune_the_oldest_finished_jobs() -> None:
    jobs = [finished_job("ok-3", "Complete", "2026-01-01T10:03:00Z"),
            finished_job("ok-1", "Complete", "2026-01-01T10:01:00Z"),
            finished_job("ok-never", "Complete", None),  # never started: kept longest
            finished_job("ok-2", "Complete", "2026-01-01T10:02:00Z"),
            finished_job("bad-1", "Failed", "2026-01-01T10:01:00Z"),
            finished_job("bad-2", "Failed", "2026-01-01T10:02:00Z"),
            finished_job("running", None, "2026-01-01T09:00:00Z")]  # never pruned
    cj = cronjob(successfulJobsHistoryLimit=2, failedJobsHistoryLimit=1)
    assert [j["metadata"]["name"] for j in cron.jobs_to_prune(cj, jobs)] == ["ok-1", "ok-2", "bad-1"]
    cj["spec"]["successfulJobsHistoryLimit"] = 0
    assert len(cron.jobs_to_prune(cj, jobs)) == 5
    del cj["spec"]["successfulJobsHistoryLimit"], cj["spec"]["failedJobsHistoryLimit"]
    assert cron.jobs_to_prune(cj, jobs) == []


# ---------------------------------------------------------------------- sync, with a fake apiserver


def controller(now: datetime) -> tuple[cron.CronJobController, Any, Any]:
    ctx, client, recorder = context()
    ctl = cron.CronJobController(ctx)
    ctl.clock = lambda: now
    return ctl, client, recorder


async def test_sync_starts_the_due_run_and_records_it() -> None:
    now = at("2026-01-01T10:01:02")
    ctl, client, recorder = controller(now)
    client.put(CRONJOBS, cronjob())
    sync_cache(ctl.informer, client)
    await ctl.sync("ns/tick")
    name = cron.job_name(cronjob(), at("2026-01-01T10:01:00"))
    assert ("jobs", "ns", name) in client.objects
    status = client.objects[("cronjobs", "ns", "tick")]["status"]
    assert status["lastScheduleTime"] == "2026-01-01T10:01:00Z"
    assert [(r["kind"], r["name"]) for r in status["active"]] == [("Job", name)]
    assert ("tick", "SuccessfulCreate", f"Created job {name}") in recorder.events


async def test_sync_after_a_restart_adopts_its_job_instead_of_creating_another() -> None:
    now = at("2026-01-01T10:01:02")
    ctl, client, recorder = controller(now)
    client.put(CRONJOBS, cronjob())
    already = cron.job_from_template(cronjob(), at("2026-01-01T10:01:00"))
    created = await client.create(JOBS, already)  # made before the crash; the status never recorded it
    sync_cache(ctl.informer, client)
    await ctl.sync("ns/tick")  # the job cache is empty: as if the watch had not delivered it yet
    status = client.objects[("cronjobs", "ns", "tick")]["status"]
    assert [r["uid"] for r in status["active"]] == [created["metadata"]["uid"]]
    assert [c for c in client.calls if c[0] == "create"] == [("create", "jobs", already["metadata"]["name"])] * 2
    assert "SuccessfulCreate" not in recorder.reasons()
    assert len([k for k in client.objects if k[0] == "jobs"]) == 1


async def test_forbid_waits_for_the_active_run() -> None:
    now = at("2026-01-01T10:02:01")
    ctl, client, recorder = controller(now)
    running = cron.job_from_template(cronjob(), at("2026-01-01T10:01:00"))
    running = await client.create(JOBS, running)
    cj = cronjob(last="2026-01-01T10:01:00", concurrencyPolicy="Forbid")
    cj["status"]["active"] = [{"kind": "Job", "name": running["metadata"]["name"], "namespace": "ns",
                               "uid": running["metadata"]["uid"]}]
    client.put(CRONJOBS, cj)
    sync_cache(ctl.informer, client)
    sync_cache(ctl.jobs, client)
    await ctl.sync("ns/tick")
    assert len([k for k in client.objects if k[0] == "jobs"]) == 1
    assert "JobAlreadyActive" in recorder.reasons()


async def test_suspended_cronjob_starts_nothing() -> None:
    ctl, client, _ = controller(at("2026-01-01T10:05:02"))
    client.put(CRONJOBS, cronjob(suspend=True))
    sync_cache(ctl.informer, client)
    await ctl.sync("ns/tick")
    assert not [k for k in client.objects if k[0] == "jobs"]


async def test_finished_job_leaves_active_and_sets_last_successful_time() -> None:
    now = at("2026-01-01T10:01:30")
    ctl, client, recorder = controller(now)
    job = await client.create(JOBS, cron.job_from_template(cronjob(), at("2026-01-01T10:01:00")))
    job["status"] = {"startTime": "2026-01-01T10:01:01Z", "completionTime": "2026-01-01T10:01:20Z",
                     "conditions": [{"type": "Complete", "status": "True"}]}
    client.put(JOBS, job)
    cj = cronjob(last="2026-01-01T10:01:00")
    cj["status"]["active"] = [{"kind": "Job", "name": job["metadata"]["name"], "namespace": "ns",
                               "uid": job["metadata"]["uid"]}]
    client.put(CRONJOBS, cj)
    sync_cache(ctl.informer, client)
    sync_cache(ctl.jobs, client)
    await ctl.sync("ns/tick")
    status = client.objects[("cronjobs", "ns", "tick")]["status"]
    assert "active" not in status and status["lastSuccessfulTime"] == "2026-01-01T10:01:20Z"
    assert ("tick", "SawCompletedJob", f"Saw completed job: {job['metadata']['name']}, condition: Complete") \
        in recorder.events
