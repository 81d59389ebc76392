"""The Scheduler's wiring, with informer caches fed by hand and a fake hot-path client recording the writes:
binding and the Scheduled event, the Unschedulable condition and FailedScheduling event, retry on a node event,
other schedulerNames left alone, PriorityClass resolution, binding failures, preemption, default spreading."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kube import errors
from kube.client import ApiClient
from kube.informer import object_key
from scheduler.scheduler import Scheduler
from tests.unit.scheduler.factories import node, pod


class FakeHot:
    """Stands in for HotPathClient: records requests, fails those whose path ends as told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.fail: dict[str, errors.ApiError] = {}

    async def request(self, method: str, path: str, body: Any = None, content_type: str = "") -> Any:
        self.calls.append((method, path, body))
        for suffix, exc in self.fail.items():
            if path.endswith(suffix):
                raise exc
        return {}

    async def close(self) -> None:
        pass

    def paths(self, method: str) -> list[str]:
        return [p for m, p, _ in self.calls if m == method]

    def bodies(self, method: str, suffix: str) -> list[Any]:
        return [b for m, p, b in self.calls if m == method and p.endswith(suffix)]


@pytest.fixture
async def sched():
    client = ApiClient("http://127.0.0.1:9")
    s = Scheduler(client, FakeHot())
    writer = asyncio.create_task(s.events.run())
    yield s
    writer.cancel()
    await client.close()


def put(informer: Any, obj: dict) -> None:
    informer._put(object_key(obj), obj)


async def cycle(s: Scheduler) -> None:
    """One scheduling cycle and everything it started."""
    qpi = await asyncio.wait_for(s.queue.pop(), 1)
    s.schedule_one(qpi)
    await s.drain()
    await s.events.flush()


def events(s: Scheduler) -> list[tuple[str, str]]:
    return [(b["reason"], b["message"]) for b in s.hot.bodies("POST", "/events")]


async def test_a_pod_is_bound_and_gets_a_scheduled_event(sched: Scheduler) -> None:
    put(sched.nodes, node("n1"))
    put(sched.pods, pod("web", "100m"))
    await cycle(sched)
    assert sched.hot.bodies("POST", "/pods/web/binding")[0]["target"]["name"] == "n1"
    assert ("Scheduled", "Successfully assigned default/web to n1") in events(sched)
    assert sched.cache.is_assumed("default/web")
    put(sched.pods, pod("web", "100m", node_name="n1") | {"metadata": {**pod("web")["metadata"],
                                                                          "resourceVersion": "2"}})
    assert not sched.cache.is_assumed("default/web") and sched.cache.node("n1").req_cpu == 100


async def test_an_unschedulable_pod_waits_with_a_reason_and_is_retried_on_a_node_event(sched: Scheduler) -> None:
    put(sched.nodes, node("small", cpu="1"))
    put(sched.pods, pod("big", "2"))
    await cycle(sched)
    message = ("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
               "1 No preemption victims found for incoming pod.")
    condition = sched.hot.bodies("PATCH", "/pods/big/status")[0]["status"]["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"], condition["message"]) == (
        "PodScheduled", "False", "Unschedulable", message)
    assert ("FailedScheduling", message) in events(sched)
    assert sched.queue.where("default/big") == "unschedulable"
    put(sched.nodes, node("large", cpu="4"))
    assert sched.queue.where("default/big") in ("active", "backoff")


async def test_a_node_heartbeat_does_not_wake_waiting_pods(sched: Scheduler) -> None:
    put(sched.nodes, node("small", cpu="1"))
    put(sched.pods, pod("big", "2"))
    await cycle(sched)
    beat = node("small", cpu="1")
    beat["metadata"]["resourceVersion"] = "9"
    beat["status"]["conditions"][0]["lastHeartbeatTime"] = "later"
    put(sched.nodes, beat)
    assert sched.queue.where("default/big") == "unschedulable"


async def test_pods_for_other_schedulers_are_left_alone(sched: Scheduler) -> None:
    put(sched.nodes, node("n1"))
    put(sched.pods, pod("theirs", schedulerName="someone-else"))
    assert len(sched.queue) == 0


async def test_priority_class_resolution(sched: Scheduler) -> None:
    put(sched.priority_classes, {"metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "Never"})
    assert sched.priority(pod("p", priorityClassName="high")) == (1000, "Never")
    assert sched.priority(pod("p", priorityClassName="system-node-critical"))[0] == 2000001000
    assert sched.priority(pod("p", priorityClassName="missing"))[0] == 0
    assert sched.priority(pod("p", priority=7))[0] == 7
    assert sched.priority(pod("p"))[0] == 0
    put(sched.priority_classes, {"metadata": {"name": "default"}, "value": 5, "globalDefault": True})
    assert sched.priority(pod("p"))[0] == 5


async def test_a_failed_binding_is_forgotten_and_retried(sched: Scheduler) -> None:
    put(sched.nodes, node("n1"))
    put(sched.pods, pod("web"))
    sched.hot.fail["/binding"] = errors.InternalError("etcd is sad")
    await cycle(sched)
    assert not sched.cache.is_assumed("default/web")
    assert sched.queue.where("default/web") == "backoff"
    assert any(r == "FailedScheduling" and "etcd is sad" in m for r, m in events(sched))


async def test_preemption_deletes_victims_and_nominates(sched: Scheduler) -> None:
    put(sched.nodes, node("n1", cpu="1"))
    put(sched.pods, pod("low", "800m", node_name="n1", priority=0))
    put(sched.pods, pod("high", "500m", priority=100))
    await cycle(sched)
    assert sched.hot.paths("DELETE") == ["/api/v1/namespaces/default/pods/low"]
    assert sched.hot.bodies("PATCH", "/pods/high/status")[0]["status"]["nominatedNodeName"] == "n1"
    assert any(r == "Preempted" and "on node n1" in m for r, m in events(sched))
    assert sched.nominator.node_of("default/high") == "n1"
    sched.pods._remove("default/low")  # the victim is gone
    assert sched.queue.where("default/high") in ("active", "backoff")


async def test_default_spreading_uses_services(sched: Scheduler) -> None:
    for name in ("n1", "n2", "n3"):
        put(sched.nodes, node(name))
    put(sched.services, {"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "web"}}})
    for i in range(6):
        put(sched.pods, pod(f"w{i}", "100m", labels={"app": "web"}))
        await cycle(sched)
    placed = [b["target"]["name"] for b in sched.hot.bodies("POST", "/binding")]
    assert sorted(placed.count(n) for n in ("n1", "n2", "n3")) == [2, 2, 2]


async def test_a_deleted_pending_pod_leaves_the_queue(sched: Scheduler) -> None:
    put(sched.pods, pod("gone"))
    sched.pods._remove("default/gone")
    assert len(sched.queue) == 0
