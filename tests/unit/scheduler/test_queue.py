"""The scheduling queue: priority then FIFO in activeQ, per-pod exponential back-off (1 s doubling to 10 s),
unschedulable pods moved only by events their rejecting plugins care about, the periodic flush, move requests
during a pod's cycle, updates and deletes, and the nominator. Time is a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from scheduler.framework import Event, PodInfo
from scheduler.queue import Nominator, SchedulingQueue
from tests.unit.scheduler.factories import pod


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pi(name: str, priority: int = 0, **spec: object) -> PodInfo:
    return PodInfo(pod(name, **spec), priority)


INTEREST = {Event.NODE_ADD: {"NodeResourcesFit", "NodeAffinity"}, Event.ASSIGNED_POD_DELETE: {"NodeResourcesFit"},
            Event.NODE_LABEL: {"NodeAffinity"}}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(clock: Clock) -> SchedulingQueue:
    return SchedulingQueue(clock=clock, interested_plugins=lambda e: INTEREST.get(e, set()))


async def pop_all(queue: SchedulingQueue) -> list[str]:
    out = []
    while queue.pending()["active"]:
        qpi = await queue.pop()
        queue.done(qpi.key)
        out.append(qpi.pod.name)
    return out


async def test_active_queue_orders_by_priority_then_fifo(queue: SchedulingQueue, clock: Clock) -> None:
    for name, priority in (("low1", 0), ("high", 100), ("low2", 0), ("mid", 10)):
        queue.add(pi(name, priority))
        clock.now += 1
    assert await pop_all(queue) == ["high", "mid", "low1", "low2"]


async def test_backoff_doubles_from_one_second_up_to_ten(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pi("p"))
    waits = []
    for _ in range(6):
        qpi = await queue.pop()
        queue.add_backoff(qpi)
        waits.append(queue.backoff_duration(qpi))
        clock.now += waits[-1] - 0.01
        queue.flush_backoff_completed()
        assert queue.where("default/p") == "backoff"
        clock.now += 0.02
        queue.flush_backoff_completed()
        assert queue.where("default/p") == "active"
    assert waits == [1, 2, 4, 8, 10, 10]


async def test_unschedulable_pod_moves_only_on_a_relevant_event(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pi("p"))
    qpi = await queue.pop()
    qpi.unschedulable_plugins = {"NodeAffinity"}
    queue.add_unschedulable(qpi, queue.scheduling_cycle)
    assert queue.where("default/p") == "unschedulable"
    assert queue.move_all(Event.ASSIGNED_POD_DELETE) == 0  # a freed pod does not help a selector mismatch
    assert queue.where("default/p") == "unschedulable"
    clock.now += 5
    assert queue.move_all(Event.NODE_LABEL) == 1
    assert queue.where("default/p") == "active"  # its 1 s back-off is over


async def test_a_pod_moved_while_backing_off_waits_in_backoff(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pi("p"))
    qpi = await queue.pop()
    qpi.unschedulable_plugins = {"NodeResourcesFit"}
    queue.add_unschedulable(qpi, queue.scheduling_cycle)
    clock.now += 0.5
    queue.move_all(Event.NODE_ADD)
    assert queue.where("default/p") == "backoff"
    clock.now += 0.6
    queue.flush_backoff_completed()
    assert queue.where("default/p") == "active"


async def test_pods_rejected_by_no_plugin_move_on_any_event(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pi("p"))
    qpi = await queue.pop()
    queue.add_unschedulable(qpi, queue.scheduling_cycle)
    clock.now += 2
    assert queue.move_all(Event.NAMESPACE_LABEL) == 1


async def test_leftover_unschedulable_pods_are_flushed_after_the_maximum(clock: Clock) -> None:
    queue = SchedulingQueue(clock=clock, max_unschedulable=60)
    queue.add(pi("p"))
    qpi = await queue.pop()
    qpi.unschedulable_plugins = {"NodeAffinity"}
    queue.add_unschedulable(qpi, queue.scheduling_cycle)
    clock.now += 59
    queue.flush_unschedulable_leftover()
    assert queue.where("default/p") == "unschedulable"
    clock.now += 2
    queue.flush_unschedulable_leftover()
    assert queue.where("default/p") == "active"


async def test_a_move_request_during_the_cycle_is_not_lost(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pi("p"))
    qpi = await queue.pop()
    cycle = queue.scheduling_cycle
    queue.move_all(Event.NODE_ADD)  # a node appeared while we were deciding "no node fits"
    qpi.unschedulable_plugins = {"NodeResourcesFit"}
    queue.add_unschedulable(qpi, cycle)
    assert queue.where("default/p") == "backoff"


async def test_update_of_an_unschedulable_pod(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pi("p"))
    qpi = await queue.pop()
    qpi.unschedulable_plugins = {"NodeAffinity"}
    queue.add_unschedulable(qpi, queue.scheduling_cycle)
    queue.update(pi("p"), relevant=False)  # e.g. our own status write
    assert queue.where("default/p") == "unschedulable"
    clock.now += 5
    queue.update(pi("p", nodeSelector={"a": "b"}), relevant=True)
    assert queue.where("default/p") == "active"
    assert queue.pending()["active"] == ["default/p"]


async def test_update_while_in_flight_sends_a_failed_pod_to_retry(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pi("p"))
    qpi = await queue.pop()
    queue.update(pi("p", nodeSelector={"a": "b"}), relevant=True)
    assert queue.where("default/p") == "in_flight"
    qpi.unschedulable_plugins = {"NodeAffinity"}
    queue.add_unschedulable(qpi, queue.scheduling_cycle)
    assert queue.where("default/p") in ("active", "backoff")
    assert qpi.pod.node_selector == {"a": "b"}


async def test_delete_removes_from_every_queue(queue: SchedulingQueue) -> None:
    queue.add(pi("a"))
    queue.add(pi("b"))
    queue.delete("default/a")
    assert await pop_all(queue) == ["b"]
    assert len(queue) == 0


async def test_pop_waits_for_a_pod(queue: SchedulingQueue) -> None:
    waiter = asyncio.create_task(queue.pop())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    queue.add(pi("p"))
    qpi = await asyncio.wait_for(waiter, 1)
    assert qpi.pod.name == "p" and qpi.attempts == 1


def test_nominator() -> None:
    nominator = Nominator()
    assert not nominator
    high = pi("high", 100)
    nominator.add(high, "n1")
    assert nominator.node_of("default/high") == "n1"
    assert [p.name for p in nominator.pods_for("n1")] == ["high"]
    nominator.add(high, "n2")
    assert nominator.pods_for("n1") == [] and nominator.node_of("default/high") == "n2"
    nominator.update(pi("high", 100))  # an update without status.nominatedNodeName keeps ours
    assert nominator.node_of("default/high") == "n2"
    nominator.delete("default/high")
    assert not nominator
