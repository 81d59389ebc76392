"""Leader election through a coordination.k8s.io Lease, as client-go's leaderelection does it.

Candidates race to create or take over a Lease; the holder renews `spec.renewTime` every `retry_period`
and gives up leadership if it cannot renew within `renew_deadline`. A candidate takes over a Lease whose
renewTime is older than its `leaseDurationSeconds`. Every write is a compare-and-swap on resourceVersion,
so two candidates never both believe they won.

Losing the lease ends `run` (the leader's work is cancelled); daemons then exit and are restarted, which
is how kube-scheduler and kube-controller-manager behave. `healthz_check` is client-go's HealthzAdaptor (the
`leaderElection` check of their /healthz): it fails when a leader has not renewed for longer than the lease plus
a tolerance, i.e. when its renewal loop is stuck and another candidate may already lead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kube import errors, healthz, timeutil
from kube.client.rest import ApiClient
from kube.resources import LEASES

__all__ = ["WATCHDOG_TOLERANCE", "LeaderElector", "LeaseSettings"]

#: how long past its lease a leader may go unrenewed before `leaderElection` fails (kube-scheduler uses 20 s)
WATCHDOG_TOLERANCE = 20.0

log = logging.getLogger("kube.leaderelection")


@dataclass(frozen=True)
class LeaseSettings:
    namespace: str
    name: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


def _expired(lease: dict[str, Any], now: datetime) -> bool:
    spec = lease.get("spec") or {}
    renewed = spec.get("renewTime") or spec.get("acquireTime")
    if not renewed or not spec.get("holderIdentity"):
        return True
    age = (now - timeutil.parse(renewed)).total_seconds()
    return age > float(spec.get("leaseDurationSeconds") or 0)


class LeaderElector:
    def __init__(self, client: ApiClient, settings: LeaseSettings) -> None:
        self.client = client
        self.settings = settings
        self.is_leader = False
        self.observed: float | None = None  # loop time of the last successful acquire or renewal

    def check(self, tolerance: float = WATCHDOG_TOLERANCE) -> str | None:
        """None unless this candidate leads and has not renewed within lease duration + `tolerance`."""
        if not self.is_leader or self.observed is None:
            return None
        if asyncio.get_running_loop().time() - self.observed > self.settings.lease_duration + tolerance:
            return f"failed election to renew leadership on lease {self.settings.name}"
        return None

    def healthz_check(self, tolerance: float = WATCHDOG_TOLERANCE) -> healthz.NamedCheck:
        """The `leaderElection` check kube-scheduler and kube-controller-manager put in /healthz and /livez."""
        return healthz.NamedCheck("leaderElection", lambda: self.check(tolerance))

    def _spec(self, previous: dict[str, Any] | None) -> dict[str, Any]:
        now = timeutil.now_micro()
        spec: dict[str, Any] = {
            "holderIdentity": self.settings.identity,
            "leaseDurationSeconds": max(1, round(self.settings.lease_duration)),
            "renewTime": now,
            "acquireTime": now,
            "leaseTransitions": 0,
        }
        if previous:
            held_by_me = previous.get("holderIdentity") == self.settings.identity
            spec["acquireTime"] = previous.get("acquireTime", now) if held_by_me else now
            transitions = int(previous.get("leaseTransitions") or 0)
            spec["leaseTransitions"] = transitions if held_by_me else transitions + 1
        return spec

    async def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this candidate holds the lease afterwards."""
        s = self.settings
        try:
            lease = await self.client.get(LEASES, s.name, s.namespace)
        except errors.NotFound:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": s.name, "namespace": s.namespace}, "spec": self._spec(None)}
            try:
                await self.client.create(LEASES, body, s.namespace)
                return True
            except errors.AlreadyExists:
                return False
        spec = lease.get("spec") or {}
        if spec.get("holderIdentity") != s.identity and not _expired(lease, datetime.now(UTC)):
            return False
        lease["spec"] = self._spec(spec)
        try:
            await self.client.replace(LEASES, lease)  # CAS on the resourceVersion we read
        except errors.Conflict:
            return False
        return True

    async def _acquire(self) -> None:
        while True:
            try:
                if await self.try_acquire_or_renew():
                    self.observed = asyncio.get_running_loop().time()
                    return
            except errors.ApiError as exc:
                log.warning("leader election %s/%s: %s", self.settings.namespace, self.settings.name, exc)
            await asyncio.sleep(self.settings.retry_period)

    async def _keep(self) -> None:
        """Renew until a renewal fails for longer than renew_deadline; then return (leadership lost)."""
        loop = asyncio.get_running_loop()
        last_renewed = loop.time()
        while True:
            await asyncio.sleep(self.settings.retry_period)
            try:
                renewed = await self.try_acquire_or_renew()
            except errors.ApiError as exc:
                log.warning("renewing lease %s: %s", self.settings.name, exc)
                renewed = False
            if renewed:
                last_renewed = self.observed = loop.time()
            elif loop.time() - last_renewed > self.settings.renew_deadline:
                return

    async def run(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Wait for leadership, run `lead()` while holding it; return when it is lost or `lead` ends."""
        s = self.settings
        log.info("waiting to lead %s/%s as %s", s.namespace, s.name, s.identity)
        await self._acquire()
        self.is_leader = True
        log.info("became leader of %s/%s as %s", s.namespace, s.name, s.identity)
        work = asyncio.create_task(lead(), name="leader-work")
        keeper = asyncio.create_task(self._keep(), name="lease-renewal")
        lost = False
        try:
            await asyncio.wait({work, keeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost = keeper.done() and not work.done()
            self.is_leader = False
            for task in (work, keeper):
                task.cancel()
            for task in (work, keeper):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if lost:
                log.error("lost the lease %s/%s", s.namespace, s.name)
            else:
                await self._release()
        if work.done() and not work.cancelled() and work.exception():
            raise work.exception()  # type: ignore[misc]

    async def _release(self) -> None:
        """Clear holderIdentity on a clean exit, so a standby takes over at once instead of after expiry."""
        s = self.settings
        with contextlib.suppress(errors.ApiError):
            lease = await self.client.get(LEASES, s.name, s.namespace)
            if (lease.get("spec") or {}).get("holderIdentity") == s.identity:
                lease["spec"]["holderIdentity"] = None
                lease["spec"]["leaseDurationSeconds"] = 1
                await self.client.replace(LEASES, lease)
