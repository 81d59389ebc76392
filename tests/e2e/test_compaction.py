"""Issue 10: the apiserver compacts etcd on Kubernetes' schedule, so history stays bounded and old revisions get 410.

Two apiservers share an etcd of their own (compaction would disturb the session etcd's other tests) with
--etcd-compaction-interval 2s. Under churn, etcd's own figures (its /metrics: compact and current revision;
etcdctl reading an old revision) show the history bounded, and the two apiservers compact once per interval
between them (compact_rev_key's version). A watch from revision 1 gets an ERROR event with code 410, a list
continued or read Exact at a compacted revision gets 410, and a re-list then a watch from its resourceVersion
work again, with raw HTTP and with the project's informer.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cli import supervise
from kube.informer import Informer
from kube.resources import CONFIGMAPS
from tests.e2e.conftest import start_apiserver
from tests.support.secured import Apiserver, TestPKI

pytestmark = pytest.mark.e2e

INTERVAL = 2.0
SLACK = 3.0


class Cluster:
    def __init__(self, etcd: str, apiservers: list[Apiserver]) -> None:
        self.etcd = etcd
        self.servers = apiservers
        self.apiservers = [a.url for a in apiservers]
        self.http = apiservers[0].pki.http(timeout=20)  # the admin, for full URLs of either apiserver
        self.etcdctl = str(Path(supervise.etcd_binary()).parent / "etcdctl")

    def revisions(self) -> tuple[int, int]:
        """(current, compacted) revision as etcd itself reports them."""
        figures = {}
        for line in httpx.get(f"{self.etcd}/metrics", timeout=5).text.splitlines():
            name, _, value = line.partition(" ")
            if name in ("etcd_debugging_mvcc_current_revision", "etcd_debugging_mvcc_compact_revision"):
                figures[name] = int(float(value))
        return figures["etcd_debugging_mvcc_current_revision"], figures["etcd_debugging_mvcc_compact_revision"]

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.etcdctl, "--endpoints", self.etcd, *args], capture_output=True, text=True,
                              timeout=20, check=False)

    def compact_key_version(self) -> int:
        out = self.ctl("get", "compact_rev_key", "-w", "json")
        kvs = json.loads(out.stdout).get("kvs") or []
        return int(kvs[0].get("version", 0)) if kvs else 0

    def wait_compacted_past(self, revision: int) -> None:
        supervise.wait_for(lambda: self.revisions()[1] >= revision, 3 * INTERVAL + SLACK,
                           f"etcd compacted up to revision {revision}")


@pytest.fixture(scope="module")
def cluster(pki: TestPKI, workdir: Path) -> Iterator[Cluster]:
    etcd, etcd_daemon = supervise.start_etcd("etcd-compaction", workdir / "etcd-compaction", workdir / "logs")
    daemons = [etcd_daemon]
    try:
        servers = []
        for i in range(2):
            server = start_apiserver(pki, etcd, workdir / "logs", name=f"apiserver-compaction-{i}",
                                     extra=["--etcd-compaction-interval", f"{INTERVAL:g}s"])
            daemons.append(server.daemon)
            servers.append(server)
        c = Cluster(etcd, servers)
        try:
            yield c
        finally:
            c.http.close()
    finally:
        for daemon in reversed(daemons):
            supervise.stop(daemon)


def configmaps(url: str) -> str:
    return f"{url}/api/v1/namespaces/default/configmaps"


def churn(cluster: Cluster, name: str, seconds: float, max_writes: int = 3000) -> int:
    """Update one ConfigMap through both apiservers for `seconds`; how many writes were made."""
    client = cluster.http
    assert client.post(configmaps(cluster.apiservers[0]), json={"metadata": {"name": name}}).status_code == 201
    writes = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and writes < max_writes:
        url = cluster.apiservers[writes % 2]
        resp = client.patch(f"{configmaps(url)}/{name}", json={"data": {"n": str(writes)}},
                            headers={"Content-Type": "application/merge-patch+json"})
        assert resp.status_code == 200, resp.text
        writes += 1
    return writes


def first_event(cluster: Cluster, url: str, params: dict[str, str]) -> dict:
    with cluster.http.stream("GET", configmaps(url), params={"watch": "true", **params}, timeout=20) as stream:
        assert stream.status_code == 200
        for line in stream.iter_lines():
            return json.loads(line)
    raise AssertionError("the watch ended without an event")


def test_history_stays_bounded_under_churn_with_one_compaction_per_interval(cluster: Cluster, run_id: str) -> None:
    start_current, _ = cluster.revisions()
    version_before = cluster.compact_key_version()
    started = time.monotonic()
    samples: list[tuple[int, int]] = []
    writes = 0
    for _ in range(4):  # 4 rounds of churn, ~1.5 intervals each, sampling etcd's figures between them
        writes += churn(cluster, f"churn-{run_id}-{len(samples)}", 1.5 * INTERVAL)
        samples.append(cluster.revisions())
    end_current, _ = cluster.revisions()
    cluster.wait_compacted_past(end_current)
    current, compacted = cluster.revisions()
    elapsed = time.monotonic() - started
    rounds = cluster.compact_key_version() - version_before
    print(f"{writes} writes: revisions {start_current} -> {end_current}; (current, compacted) per round {samples}, "
          f"finally ({current}, {compacted}); {rounds} compaction rounds in {elapsed:.1f}s by 2 apiservers")
    assert len({c for _, c in samples}) >= 2, "etcd was not compacted while the churn went on"
    assert all(cur - comp < end_current - start_current for cur, comp in samples[1:])
    assert current - compacted < 10  # only the compactor's own writes since the last compaction
    # Two apiservers, yet one compaction per interval between them (the compact_rev_key compare-and-swap).
    assert rounds <= elapsed / INTERVAL + 1
    old = cluster.ctl("get", "/registry/configmaps/default/", "--prefix", "--rev", str(start_current))
    assert old.returncode != 0 and "required revision has been compacted" in old.stderr, old


def test_a_watch_from_a_compacted_revision_gets_410_and_a_relist_brings_it_back(
        cluster: Cluster, run_id: str) -> None:
    churn(cluster, f"before-watch-{run_id}", 0.2)
    current, _ = cluster.revisions()
    cluster.wait_compacted_past(current)
    for url in cluster.apiservers:
        event = first_event(cluster, url, {"resourceVersion": "1"})
        assert event["type"] == "ERROR", event
        status = event["object"]
        assert status["kind"] == "Status" and status["code"] == 410 and status["reason"] == "Expired", status
        # The client re-lists and watches from the list's resourceVersion: it sees what comes next.
        listed = cluster.http.get(configmaps(url)).json()
        name = f"after-relist-{run_id}-{cluster.apiservers.index(url)}"
        with cluster.http.stream("GET", configmaps(url), timeout=20, params={
                "watch": "true", "resourceVersion": listed["metadata"]["resourceVersion"]}) as stream:
            assert cluster.http.post(configmaps(url), json={"metadata": {"name": name}}).status_code == 201
            for line in stream.iter_lines():
                event = json.loads(line)
                assert event["type"] != "ERROR", event
                if event["object"]["metadata"]["name"] == name:
                    assert event["type"] == "ADDED"
                    break


async def test_an_informer_resuming_from_a_compacted_revision_relists(cluster: Cluster, run_id: str) -> None:
    client = cluster.servers[1].api()
    informer = Informer(client, CONFIGMAPS, namespace="default")
    informer.resource_version = "1"  # as if it had been away since the cluster's start
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.synced.wait(), 15)  # set by the re-list the 410 caused
        name = f"informed-{run_id}"
        await asyncio.to_thread(cluster.http.post, configmaps(cluster.apiservers[0]), json={"metadata": {"name": name}})
        deadline = time.monotonic() + 15
        while informer.get(f"default/{name}") is None:
            assert time.monotonic() < deadline, "the informer never saw the new ConfigMap"
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.close()


def test_a_list_at_a_compacted_revision_gets_410(cluster: Cluster, run_id: str) -> None:
    url = cluster.apiservers[0]
    for i in range(3):
        assert cluster.http.post(configmaps(url), json={"metadata": {"name": f"page-{run_id}-{i}"}}).status_code == 201
    first = cluster.http.get(configmaps(url), params={"limit": "1"}).json()
    token, revision = first["metadata"]["continue"], first["metadata"]["resourceVersion"]
    exact = {"resourceVersion": revision, "resourceVersionMatch": "Exact"}
    assert cluster.http.get(configmaps(url), params=exact).status_code == 200  # still there before the compaction
    churn(cluster, f"before-list-{run_id}", 0.2)
    cluster.wait_compacted_past(int(revision) + 1)
    for params in ({"limit": "1", "continue": token}, exact):
        resp = cluster.http.get(configmaps(url), params=params)
        status = resp.json()
        assert resp.status_code == 410 and status["reason"] == "Expired" and status["code"] == 410, (params, status)
    assert len(cluster.http.get(configmaps(url)).json()["items"]) >= 3  # a fresh list works
