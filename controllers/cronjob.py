"""CronJob controller: create a Job from `jobTemplate` at each time the cron `schedule` names.

Follows kube-controller-manager's cronjob controller v2 (pkg/controller/cronjob/cronjob_controllerv2.go):
one sync per CronJob works out the most recent unmet schedule time (since lastScheduleTime, or creation,
bounded by startingDeadlineSeconds), starts at most that one run, and requeues itself for the exact next
schedule time. The Job's name is `<cronjob>-<scheduled time in minutes since the epoch>`, so a controller
that restarts between creating a Job and recording it in the status finds its own Job (AlreadyExists) and
never starts a run twice. concurrencyPolicy Allow/Forbid/Replace, suspend, timeZone, status.active,
lastScheduleTime, lastSuccessfulTime, and pruning of finished Jobs beyond the history limits (oldest start
first, Background propagation). Schedules are parsed with croniter (five fields or @hourly-style macros).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

from controllers import jobutil
from controllers.base import Controller, controller_of
from controllers.context import ControllerContext
from kube import errors, timeutil
from kube.informer import Handler, object_key
from kube.resources import CRONJOBS, JOBS, ResourceType

__all__ = [
    "CronJobController", "Schedule", "job_from_template", "job_name", "jobs_to_prune", "most_recent_schedule_time",
    "next_schedule_delay", "parse_schedule",
]

Obj = dict[str, Any]

NEXT_SCHEDULE_DELTA = 0.1  # seconds past the schedule time to wake up (nextScheduleDelta: clock skew)
MANY_MISSED = 100  # beyond this many missed start times, warn TooManyMissedTimes


# ---------------------------------------------------------------------- schedule math (unit-tested)


@dataclass(frozen=True)
class Schedule:
    """A parsed cron schedule in a time zone; `next` is strictly after the given instant, in UTC."""

    expr: str
    zone: tzinfo = UTC

    def next(self, after: datetime) -> datetime:
        try:
            found = croniter(self.expr, after.astimezone(self.zone)).get_next(datetime)
        except CroniterBadDateError as exc:  # e.g. "0 0 31 2 *": grammatical, never due
            raise ValueError(f"no time matches the schedule: {exc}") from exc
        return found.astimezone(UTC)


def parse_schedule(schedule: str, time_zone: str | None = None) -> Schedule:
    """Five cron fields or a macro (@hourly, @daily, ...), evaluated in `time_zone` (default UTC).
    ValueError when it cannot be parsed or the zone is unknown."""
    text = schedule.strip()
    zone_name = time_zone
    if text.startswith(("TZ=", "CRON_TZ=")):  # robfig/cron's prefix; the API rejects it, old objects may hold it
        prefix, _, text = text.partition(" ")
        zone_name = prefix.split("=", 1)[1]
        text = text.strip()
    zone: tzinfo = UTC
    if zone_name:
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {zone_name}") from exc
    text = " ".join("*" if f == "?" else f for f in text.split())  # `?` means "any" to robfig/cron
    try:
        if not croniter.is_valid(text) or (not text.startswith("@") and len(text.split()) != 5):
            raise ValueError(f"expected exactly 5 fields or a descriptor, found {schedule!r}")
        croniter(text, datetime(2000, 1, 1, tzinfo=UTC))
    except CroniterError as exc:
        raise ValueError(str(exc)) from exc
    return Schedule(text, zone)


def most_recent_schedule_time(cj: Obj, now: datetime, schedule: Schedule,
                              with_deadline: bool = True) -> tuple[datetime, datetime | None, int]:
    """(earliest time considered, the most recent unmet schedule time or None, roughly how many were
    missed): Kubernetes' mostRecentScheduleTime, which counts missed runs arithmetically instead of
    walking a decade of minutes. ValueError for a schedule whose runs are under a second apart."""
    status = cj.get("status") or {}
    earliest = timeutil.parse(status.get("lastScheduleTime") or cj["metadata"]["creationTimestamp"])
    deadline = cj["spec"].get("startingDeadlineSeconds")
    if with_deadline and deadline is not None:
        earliest = max(earliest, now - timedelta(seconds=int(deadline)))
    t1 = schedule.next(earliest)
    if now < t1:
        return earliest, None, 0
    t2 = schedule.next(t1)
    if now < t2:
        return earliest, t1, 0
    interval = round((t2 - t1).total_seconds())
    if interval < 1:
        raise ValueError("time difference between two schedules is less than 1 second")
    missed = int((now - t1).total_seconds()) // interval + 1
    t = schedule.next(t1 + timedelta(seconds=(missed - 2) * interval))
    recent: datetime | None = None
    while t <= now:
        recent = t
        t = schedule.next(t)
    return earliest, recent, missed


def next_schedule_delay(cj: Obj, now: datetime, schedule: Schedule) -> float:
    """Seconds until the sync that should start the next run (nextScheduleTimeDuration), plus 100 ms."""
    try:
        earliest, recent, missed = most_recent_schedule_time(cj, now, schedule, with_deadline=False)
    except ValueError:
        earliest, recent, missed = now, now, 0
    if recent is None:
        recent = earliest if missed == 0 else now
    return (schedule.next(recent) - now).total_seconds() + NEXT_SCHEDULE_DELTA


def job_name(cj: Obj, scheduled: datetime) -> str:
    """Deterministic per run: the same scheduled time always names the same Job."""
    return f"{cj['metadata']['name']}-{int(scheduled.timestamp()) // 60}"


def job_from_template(cj: Obj, scheduled: datetime, zone: tzinfo = UTC) -> Obj:
    template = cj["spec"].get("jobTemplate") or {}
    meta = template.get("metadata") or {}
    local = scheduled.astimezone(zone)
    stamp = local.strftime("%Y-%m-%dT%H:%M:%S") + (
        "Z" if local.utcoffset() == timedelta(0) else local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(cj, scheduled),
            "namespace": cj["metadata"]["namespace"],
            "labels": dict(meta.get("labels") or {}),
            "annotations": {**(meta.get("annotations") or {}), jobutil.CRONJOB_SCHEDULED_ANNOTATION: stamp},
            "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "CronJob", "name": cj["metadata"]["name"],
                "uid": cj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True,
            }],
        },
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def _start_key(job: Obj) -> tuple:
    """byJobStartTime: oldest start first, Jobs that never started last, name as the tie-breaker."""
    start = (job.get("status") or {}).get("startTime")
    return (start is None, timeutil.parse(start).timestamp() if start else 0.0, job["metadata"]["name"])


def jobs_to_prune(cj: Obj, jobs: list[Obj]) -> list[Obj]:
    """Finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit, oldest first."""
    spec = cj["spec"]
    doomed: list[Obj] = []
    for condition, limit in (("Complete", spec.get("successfulJobsHistoryLimit")),
                             ("Failed", spec.get("failedJobsHistoryLimit"))):
        if limit is None:
            continue
        finished = [j for j in jobs if (jobutil.finished_condition(j) or {}).get("type") == condition]
        excess = len(finished) - int(limit)
        if excess > 0:
            doomed.extend(sorted(finished, key=_start_key)[:excess])
    return doomed


def _reference(job: Obj) -> Obj:
    meta = job["metadata"]
    return {"kind": "Job", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"],
            "apiVersion": "batch/v1", "resourceVersion": meta.get("resourceVersion")}


def _rfc1123z(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def _rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------- the controller


class CronJobController(Controller):
    name: ClassVar[str] = "cronjob"
    primary: ClassVar[ResourceType] = CRONJOBS
    watches: ClassVar[tuple[ResourceType, ...]] = (JOBS,)
    workers: ClassVar[int] = 2

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._written: dict[str, int] = {}  # cronjob key -> resourceVersion of our last status write
        self._wakeups: dict[str, datetime] = {}  # cronjob key -> when a timer will sync it next
        self._told: dict[str, set[tuple[str, str]]] = {}  # cronjob key -> warnings already recorded, by subject
        self.jobs = ctx.informers.informer(JOBS)
        self.jobs.add_indexer("namespace", lambda j: [j["metadata"].get("namespace", "")])
        self.jobs.add_handler(Handler(on_add=self._job_changed, on_update=self._job_changed,
                                      on_delete=self._job_changed))

    def _job_changed(self, *versions: Obj) -> None:
        for job in versions:
            key = self.owner_key(job, "CronJob")
            if key is not None:
                self.queue.add(key)

    def _requeue_at(self, key: str, delay: float) -> None:
        """One timer per wake-up time, however many syncs ask for it."""
        when = self.clock() + timedelta(seconds=delay)
        pending = self._wakeups.get(key)
        if pending is not None and abs((pending - when).total_seconds()) < 0.5 and pending > self.clock():
            return
        self._wakeups[key] = when
        self.queue.add_after(key, delay)

    async def _record_once(self, cj: Obj, event_type: str, reason: str, message: str, subject: str) -> None:
        """Record a warning that every sync would repeat (a missed run, a manual Job) once per subject:
        Kubernetes' recorder folds such repeats into one Event's count."""
        told = self._told.setdefault(object_key(cj), set())
        if (reason, subject) in told:
            return
        if len(told) > 200:
            told.clear()
        told.add((reason, subject))
        await self.recorder.record(cj, event_type, reason, message)

    # ------------------------------------------------------------------ reconcile

    async def sync(self, key: str) -> None:
        cj = self.informer.get(key)
        if cj is None:
            self._written.pop(key, None)
            self._wakeups.pop(key, None)
            self._told.pop(key, None)
            return
        written = self._written.get(key)
        if written is not None and int(cj["metadata"].get("resourceVersion") or 0) < written:
            return  # our last status write is not in the cache yet: its watch event brings us back
        uid = cj["metadata"]["uid"]
        jobs = [j for j in self.jobs.by_index("namespace", cj["metadata"]["namespace"])
                if (controller_of(j) or {}).get("uid") == uid]
        status = copy.deepcopy(cj.get("status") or {})
        await self._prune(cj, status, jobs)
        try:
            delay = await self._sync(cj, status, jobs)
        finally:  # whatever was done before a failure is recorded
            if status != (cj.get("status") or {}):
                await self._write_status(key, cj, status)
        if delay is not None:
            self._requeue_at(key, delay)

    async def _write_status(self, key: str, cj: Obj, status: Obj) -> None:
        out = {k: v for k, v in status.items() if v not in (None, [], "")}
        result = await self.client.replace_status(CRONJOBS, {**cj, "status": out})
        self._written[key] = int(result["metadata"].get("resourceVersion") or 0)

    async def _prune(self, cj: Obj, status: Obj, jobs: list[Obj]) -> None:
        for job in jobs_to_prune(cj, jobs):
            await self._delete_job(cj, status, job)

    async def _delete_job(self, cj: Obj, status: Obj, job: Obj) -> bool:
        meta = job["metadata"]
        try:
            await self.client.delete(JOBS, meta["name"], meta["namespace"], propagation_policy="Background")
        except errors.NotFound:
            pass
        except errors.ApiError as exc:
            await self.recorder.record(cj, "Warning", "FailedDelete", f"Deleted job: {exc}")
            return False
        status["active"] = [r for r in status.get("active") or [] if r.get("uid") != meta["uid"]]
        await self.recorder.record(cj, "Normal", "SuccessfulDelete", f"Deleted job {meta['name']}")
        return True

    async def _sync(self, cj: Obj, status: Obj, jobs: list[Obj]) -> float | None:
        """One step of syncCronJob on `status` (changed in place): seconds until the next sync, or None."""
        now = self.clock()
        active_uids = {r.get("uid") for r in status.get("active") or []}
        for job in jobs:
            juid = job["metadata"]["uid"]
            condition = jobutil.finished_condition(job)
            if condition is None and juid not in active_uids:
                await self._record_once(cj, "Warning", "UnexpectedJob",
                                        f"Saw a job that the controller did not create or forgot: "
                                        f"{job['metadata']['name']}", juid)
            elif condition is not None:
                if juid in active_uids:
                    status["active"] = [r for r in status["active"] if r.get("uid") != juid]
                    active_uids.discard(juid)
                    await self.recorder.record(cj, "Normal", "SawCompletedJob",
                                               f"Saw completed job: {job['metadata']['name']}, "
                                               f"condition: {condition['type']}")
                completed = (job.get("status") or {}).get("completionTime")
                if condition["type"] == "Complete" and completed and (
                        not status.get("lastSuccessfulTime")
                        or timeutil.parse(completed) > timeutil.parse(status["lastSuccessfulTime"])):
                    status["lastSuccessfulTime"] = completed
        children = {j["metadata"]["uid"] for j in jobs}
        for ref in list(status.get("active") or []):
            if ref.get("uid") in children:
                continue
            try:  # the cache may simply lag: ask the apiserver before declaring it missing
                await self.client.get(JOBS, ref["name"], ref.get("namespace") or cj["metadata"]["namespace"])
            except errors.NotFound:
                await self.recorder.record(cj, "Normal", "MissingJob", f"Active job went missing: {ref['name']}")
                status["active"] = [r for r in status["active"] if r.get("uid") != ref.get("uid")]

        spec = cj["spec"]
        if cj["metadata"].get("deletionTimestamp"):
            return None
        zone_name = spec.get("timeZone")
        if zone_name is not None:
            try:
                ZoneInfo(zone_name)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                await self.recorder.record(cj, "Warning", "UnknownTimeZone", f'invalid timeZone: "{zone_name}": {exc}')
                return None
        if spec.get("suspend"):
            return None
        try:
            schedule = parse_schedule(spec.get("schedule") or "", zone_name)
        except ValueError as exc:
            await self.recorder.record(cj, "Warning", "UnparseableSchedule",
                                       f'unparseable schedule: "{spec.get("schedule")}" : {exc}')
            return None
        view = {**cj, "status": status}
        try:
            _, scheduled, missed = most_recent_schedule_time(view, now, schedule)
        except ValueError as exc:
            await self.recorder.record(cj, "Warning", "InvalidSchedule",
                                       f"invalid schedule: {spec.get('schedule')} : {exc}")
            return None
        if scheduled is not None and missed > MANY_MISSED:
            await self._record_once(cj, "Warning", "TooManyMissedTimes",
                                    "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                                    "or check clock skew", _rfc3339(scheduled))
        if scheduled is None:
            return next_schedule_delay(view, now, schedule)

        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + timedelta(seconds=int(deadline)) < now:
            message = f"Missed scheduled time to start a job: {_rfc1123z(scheduled)}"
            await self._record_once(cj, "Warning", "MissSchedule", message, _rfc3339(scheduled))
            return next_schedule_delay(view, now, schedule)
        name = job_name(cj, scheduled)
        last = status.get("lastScheduleTime")
        if any(r.get("name") == name for r in status.get("active") or []) or (
                last and timeutil.parse(last) == scheduled):
            return next_schedule_delay(view, now, schedule)
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and status.get("active"):
            await self._record_once(cj, "Normal", "JobAlreadyActive",
                                    "Not starting job because prior execution is running and concurrency "
                                    "policy is Forbid", _rfc3339(scheduled))
            return next_schedule_delay(view, now, schedule)
        if policy == "Replace":
            for ref in list(status.get("active") or []):
                try:
                    job = await self.client.get(JOBS, ref["name"], ref.get("namespace") or cj["metadata"]["namespace"])
                except errors.ApiError as exc:
                    await self.recorder.record(cj, "Warning", "FailedGet", f"Get job: {exc}")
                    raise
                if not await self._delete_job(cj, status, job):
                    raise errors.InternalError(f"could not replace job {ref['name']}")

        body = job_from_template(cj, scheduled, schedule.zone)
        try:
            created = await self.client.create(JOBS, body)
        except errors.AlreadyExists:
            # Ours from a sync whose status write was lost (a restart): record it, never start it twice.
            created = await self.client.get(JOBS, name, cj["metadata"]["namespace"])
            ref = controller_of(created) or {}
            if ref.get("uid") != cj["metadata"]["uid"] or \
                    any(r.get("uid") == created["metadata"]["uid"] for r in status.get("active") or []):
                return next_schedule_delay(view, now, schedule)
            self.log.info("cronjob %s: job %s already exists", object_key(cj), name)
        except errors.ApiError as exc:
            await self.recorder.record(cj, "Warning", "FailedCreate", f"Error creating job: {exc}")
            raise
        else:
            await self.recorder.record(cj, "Normal", "SuccessfulCreate", f"Created job {name}")
        status["active"] = [*(status.get("active") or []), _reference(created)]
        status["lastScheduleTime"] = _rfc3339(scheduled)
        return next_schedule_delay({**cj, "status": status}, now, schedule)
