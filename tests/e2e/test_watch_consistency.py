"""Watch correctness across apiservers: 4 writers x 1000 updates, 50 watchers over 2 apiservers on one etcd,
one apiserver killed and restarted mid-way with its watchers resuming from their last resourceVersion.

Every watcher must see every change exactly once and in order: for each object the counter it carries
goes 0, 1, ..., 1000 with no gap and no repeat, and resourceVersions only ever grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import pytest

from kube import errors
from kube.client import ApiClient
from kube.resources import CONFIGMAPS, NAMESPACES
from tests.e2e.conftest import start_apiserver
from tests.support.secured import Apiserver, TestPKI

pytestmark = pytest.mark.e2e

WRITERS = 4
UPDATES = 1000
WATCHERS = 50


class Watcher:
    """One watch stream that resumes from the last resourceVersion it saw whenever its server goes away."""

    def __init__(self, server: Apiserver, namespace: str, since: str) -> None:
        self.server, self.namespace, self.last_rv = server, namespace, since
        self.seen: dict[str, list[int]] = {}
        self.rvs: list[int] = []
        self.reconnects = 0

    def done(self) -> bool:
        return len(self.seen) == WRITERS and all(v and v[-1] == UPDATES for v in self.seen.values())

    async def run(self) -> None:
        while not self.done():
            client = self.server.api()
            try:
                async for kind, obj in client.watch(CONFIGMAPS, self.namespace, resource_version=self.last_rv,
                                                    timeout_seconds=120):
                    if kind == "BOOKMARK":
                        self.last_rv = obj["metadata"]["resourceVersion"]
                        continue
                    self.rvs.append(int(obj["metadata"]["resourceVersion"]))
                    self.seen.setdefault(obj["metadata"]["name"], []).append(int(obj["data"]["n"]))
                    self.last_rv = obj["metadata"]["resourceVersion"]
                    if self.done():
                        return
            except (errors.ServiceUnavailable, errors.ApiError, OSError):
                self.reconnects += 1
                await asyncio.sleep(0.2)
            finally:
                await client.close()


async def _writer(server: Apiserver, namespace: str, name: str) -> None:
    async with server.api() as client:
        await client.create(CONFIGMAPS, {"metadata": {"name": name}, "data": {"n": "0"}}, namespace)
        for i in range(1, UPDATES + 1):
            await client.patch(CONFIGMAPS, name, {"data": {"n": str(i)}}, namespace)


async def test_every_watcher_sees_every_change_once_in_order_across_an_apiserver_restart(
        api: ApiClient, apiserver: Apiserver, pki: TestPKI, etcd_url: str, workdir: Path, run_id: str) -> None:
    namespace = f"watch-many-{run_id}"
    await api.create(NAMESPACES, {"metadata": {"name": namespace}})
    second = start_apiserver(pki, etcd_url, workdir / "logs", name="apiserver-b")
    try:
        since = (await api.list(CONFIGMAPS, namespace))["metadata"]["resourceVersion"]
        watchers = [Watcher(apiserver if i % 2 == 0 else second, namespace, since) for i in range(WATCHERS)]
        watching = [asyncio.create_task(w.run()) for w in watchers]
        await asyncio.sleep(1.0)  # every watch established before the first write
        writing = [asyncio.create_task(_writer(apiserver, namespace, f"cm-{i}")) for i in range(WRITERS)]

        # Mid-way: kill the second apiserver outright and start it again on the same port.
        async def half_written() -> None:
            while sum(len(v) for v in watchers[0].seen.values()) < WRITERS * UPDATES // 2:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(half_written(), 120)
        os.kill(second.daemon.pid, signal.SIGKILL)
        await asyncio.sleep(0.5)
        # Started again on the same port (its watchers resume there), with the same certificates.
        second = start_apiserver(pki, etcd_url, workdir / "logs", name="apiserver-b-restarted", port=second.port)

        await asyncio.wait_for(asyncio.gather(*writing), 240)
        await asyncio.wait_for(asyncio.gather(*watching), 120)
    finally:
        second.stop()
        with contextlib.suppress(errors.ApiError):
            await api.delete(NAMESPACES, namespace)

    expected = list(range(UPDATES + 1))
    for i, watcher in enumerate(watchers):
        for name, counters in watcher.seen.items():
            assert counters == expected, f"watcher {i} saw {name} out of order or with gaps/repeats"
        assert watcher.rvs == sorted(set(watcher.rvs)), f"watcher {i}: resourceVersions not strictly increasing"
    assert all(w.reconnects >= 1 for w in watchers[1::2]), "the second apiserver's watchers never had to resume"
