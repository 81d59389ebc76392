"""The proxy's control loop: Services and Endpoints informers feed one rate-limited sync into a backend.

Any informer event marks the state dirty; the loop waits `min_sync_period` after the previous sync (so a burst
of changes becomes one rewrite), builds the whole picture (`proxy.model.build`) and hands it to the backend
(`proxy.iptables` or `proxy.userspace`), which replaces what it had. A full resync every `sync_period` puts
back anything changed behind our back. A failed sync is retried with back-off; a Service the backend cannot
program is logged and gets one Warning Event per distinct reason, and never stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Protocol

from kube.client import ApiClient
from kube.events import EventRecorder
from kube.informer import Handler, Informer
from kube.resources import ENDPOINTS, SERVICES
from proxy.model import Problem, ServicePort, build

__all__ = ["Backend", "Proxier"]

log = logging.getLogger("proxy")


class Backend(Protocol):
    mode: str
    rule_count: int

    async def check(self) -> None: ...

    async def sync(self, ports: list[ServicePort]) -> list[Problem]: ...

    async def close(self) -> None: ...

    async def cleanup(self) -> None: ...


class Proxier:
    def __init__(self, client: ApiClient, backend: Backend, node_name: str, *, min_sync_period: float = 0.05,
                 sync_period: float = 30.0) -> None:
        self.client = client
        self.backend = backend
        self.node_name = node_name
        self.min_sync_period = min_sync_period
        self.sync_period = sync_period
        self.services = Informer(client, SERVICES)
        self.endpoints = Informer(client, ENDPOINTS)
        self.recorder = EventRecorder(client, "kube-proxy", node_name)
        self.dirty = asyncio.Event()
        self.synced = asyncio.Event()  # set after the first successful sync
        self.stats: dict[str, Any] = {"syncs": 0, "sync_failures": 0, "last_sync_seconds": 0.0, "service_ports": 0}
        self._reported: set[tuple[str, str, str, str]] = set()
        for informer in (self.services, self.endpoints):
            informer.add_handler(Handler(on_add=self._changed, on_update=lambda _o, _n: self.dirty.set(),
                                         on_delete=self._changed))

    def _changed(self, _obj: Any) -> None:
        self.dirty.set()

    async def run(self) -> None:
        """Run until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.services.run())
            group.create_task(self.endpoints.run())
            await self.services.synced.wait()
            await self.endpoints.synced.wait()
            log.info("informers synced; programming services in %s mode", self.backend.mode)
            await self._loop()

    async def _loop(self) -> None:
        backoff = 0.5
        last = 0.0
        self.dirty.set()  # the first sync replaces whatever a previous run left
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.dirty.wait(), self.sync_period)
            wait = self.min_sync_period - (time.monotonic() - last)
            if wait > 0:
                await asyncio.sleep(wait)
            self.dirty.clear()
            last = time.monotonic()
            try:
                await self.sync_once()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats["sync_failures"] += 1
                log.error("sync failed (retrying in %.1fs): %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                self.dirty.set()

    async def sync_once(self) -> list[Problem]:
        started = time.perf_counter()
        endpoints = {f"{e['metadata'].get('namespace')}/{e['metadata']['name']}": e for e in self.endpoints.list()}
        ports, problems = build(self.services.list(), endpoints)
        problems += await self.backend.sync(ports)
        elapsed = time.perf_counter() - started
        self.stats.update(syncs=self.stats["syncs"] + 1, last_sync_seconds=round(elapsed, 4),
                          service_ports=len(ports), rules=self.backend.rule_count)
        log.debug("synced %d service ports in %.1f ms", len(ports), elapsed * 1000)
        self.synced.set()
        await self._report(problems)
        return problems

    async def _report(self, problems: list[Problem]) -> None:
        current = set()
        for problem in problems:
            svc = self.services.get(f"{problem.namespace}/{problem.name}")
            uid = (svc or {}).get("metadata", {}).get("uid", "")
            key = (uid, problem.namespace, problem.name, problem.message)
            current.add(key)
            if key in self._reported:
                continue
            log.warning("service %s/%s: %s", problem.namespace, problem.name, problem.message)
            if svc is not None:
                await self.recorder.record(svc, "Warning", problem.reason, problem.message)
        self._reported = current  # a problem that clears and comes back is reported again
