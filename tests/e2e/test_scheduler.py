"""The scheduler process against a real apiserver, with hollow nodes (Node objects, no kubelet):
placement by resources, waiting pods that are retried when a node appears, events, cordon."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from cli import supervise
from kube.client import ApiClient
from kube.resources import EVENTS, NAMESPACES, NODES, PODS

pytestmark = pytest.mark.e2e


def hollow_node(name: str, cpu: str, memory: str = "4Gi", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "hollow": "true"}},
            "spec": spec,
            "status": {"capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
                       "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(name: str, cpu: str, node_selector: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox",
                                            "resources": {"requests": {"cpu": cpu, "memory": "10Mi"}}}]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    return {"metadata": {"name": name}, "spec": spec}


async def wait_for(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


@pytest.fixture
async def hollow(api: ApiClient, run_id: str):
    """Creates hollow nodes private to this test (selected through a per-test label) and removes them."""
    made: list[str] = []

    async def make(name: str, cpu: str, **spec: Any) -> str:
        full = f"{name}-{run_id}"
        body = hollow_node(full, cpu, **spec)
        await api.create(NODES, body)
        made.append(full)
        return full

    yield make
    for name in made:
        await api.delete(NODES, name)


async def test_pending_pod_waits_with_an_event_then_lands_on_a_new_node(
    api: ApiClient, run_id: str, daemons: Callable[..., supervise.Daemon], hollow: Any
) -> None:
    ns = f"sched-{run_id}"
    await api.create(NAMESPACES, {"metadata": {"name": ns}})
    daemons("scheduler", "--retry-interval", "60")
    small = await hollow("small", "1")
    selector = {"kubernetes.io/hostname": small}

    await api.create(PODS, pod("fits", "600m", selector), ns)
    await api.create(PODS, pod("second", "600m", selector), ns)  # 1.2 cores on a 1-core node: must wait

    async def bound(name: str) -> str | None:
        return (await api.get(PODS, name, ns))["spec"].get("nodeName")

    assert await wait_for(lambda: bound("fits")) == small

    async def failed_event() -> list[dict]:
        items = (await api.list(EVENTS, ns, field_selector="involvedObject.name=second"))["items"]
        return [e for e in items if e["reason"] == "FailedScheduling"]

    event = (await wait_for(failed_event))[0]
    assert "Insufficient cpu" in event["message"] and event["type"] == "Warning"
    condition = (await api.get(PODS, "second", ns))["status"]["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"]) == ("PodScheduled", "False", "Unschedulable")

    # Deleting the first pod makes room: the waiting pod is retried without waiting for the periodic retry.
    await api.delete(PODS, "fits", ns, grace_period_seconds=0)
    assert await wait_for(lambda: bound("second")) == small
    events = (await api.list(EVENTS, ns, field_selector="involvedObject.name=second"))["items"]
    assert any(e["reason"] == "Scheduled" and small in e["message"] for e in events)


async def test_resources_are_never_overcommitted_and_pods_spread(
    api: ApiClient, run_id: str, daemons: Callable[..., supervise.Daemon], hollow: Any
) -> None:
    ns = f"spread-{run_id}"
    await api.create(NAMESPACES, {"metadata": {"name": ns}})
    nodes = [await hollow(f"h{i}", "1") for i in range(3)]
    daemons("scheduler")
    for i in range(8):  # 8 x 300m on 3 x 1 core: 9 fit, so all 8 land, at most 3 per node
        await api.create(PODS, pod(f"p{i}", "300m", {"hollow": "true"}), ns)

    async def placements() -> list[str] | None:
        items = (await api.list(PODS, ns))["items"]
        names = [p["spec"].get("nodeName") for p in items]
        return names if all(names) and len(names) == 8 else None

    placed = await wait_for(placements)
    assert set(placed) <= set(nodes)
    assert max(placed.count(n) for n in nodes) <= 3


async def test_cordoned_node_gets_no_pods(
    api: ApiClient, run_id: str, daemons: Callable[..., supervise.Daemon], hollow: Any
) -> None:
    ns = f"cordon-{run_id}"
    await api.create(NAMESPACES, {"metadata": {"name": ns}})
    cordoned = await hollow("cordoned", "8", unschedulable=True)
    daemons("scheduler")
    await api.create(PODS, pod("p", "100m", {"kubernetes.io/hostname": cordoned}), ns)

    async def failed() -> bool:
        items = (await api.list(EVENTS, ns, field_selector="involvedObject.name=p"))["items"]
        return any("unschedulable" in e["message"] for e in items)

    await wait_for(failed)
    await api.patch(NODES, cordoned, {"spec": {"unschedulable": None}})  # uncordon

    async def bound() -> str | None:
        return (await api.get(PODS, "p", ns))["spec"].get("nodeName")

    assert await wait_for(bound) == cordoned
