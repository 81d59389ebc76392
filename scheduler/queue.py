"""The scheduling queue, as kube-scheduler's `internal/queue`: three places a pending pod can wait.

  activeQ          pods ready to be tried, highest priority first, then first in (FIFO by the time they entered);
  backoffQ         pods that failed recently and wait out a per-pod exponential back-off (initial 1 s, doubling
                   with every attempt, at most 10 s) before going back to activeQ;
  unschedulablePods  pods no node fits; they stay until a cluster event one of the plugins that rejected them
                   cares about (a node added, a pod deleted, labels changed, ...) moves them to backoffQ or
                   activeQ, or until they have waited `max_unschedulable` seconds (flushed periodically).

A pod taken by `pop` is in flight until `done`. If something moved pods while it was in flight (a move request
during its cycle), a failure sends it to backoffQ instead of unschedulablePods, so the event is not lost.
The Nominator remembers which pods are nominated to which node after a preemption, so that other pods leave
room for them. The clock is injected so tests control time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from scheduler.framework import Event, PodInfo

__all__ = ["Nominator", "QueuedPodInfo", "SchedulingQueue"]


@dataclass(eq=False)
class QueuedPodInfo:
    pod: PodInfo
    timestamp: float  # when it last entered a queue: FIFO order and the start of its back-off
    attempts: int = 0
    initial_attempt: float | None = None
    unschedulable_plugins: set[str] = field(default_factory=set)
    updated_in_flight: bool = False

    @property
    def key(self) -> str:
        return self.pod.key


class Nominator:
    """Pods nominated to a node (status.nominatedNodeName, or our own preemption decision not yet seen)."""

    def __init__(self) -> None:
        self._by_node: dict[str, dict[str, PodInfo]] = {}
        self._node_of: dict[str, str] = {}

    def __bool__(self) -> bool:
        return bool(self._node_of)

    def add(self, pod: PodInfo, node_name: str | None = None) -> None:
        node_name = node_name or pod.nominated_node_name
        self.delete(pod.key)
        if not node_name:
            return
        self._node_of[pod.key] = node_name
        self._by_node.setdefault(node_name, {})[pod.key] = pod

    def update(self, pod: PodInfo) -> None:
        """Keep an in-memory nomination when a pod update does not carry one yet."""
        node_name = pod.nominated_node_name or self._node_of.get(pod.key)
        self.add(pod, node_name)

    def delete(self, key: str) -> None:
        node_name = self._node_of.pop(key, None)
        if node_name is not None:
            pods = self._by_node.get(node_name, {})
            pods.pop(key, None)
            if not pods:
                self._by_node.pop(node_name, None)

    def node_of(self, key: str) -> str | None:
        return self._node_of.get(key)

    def pods_for(self, node_name: str) -> list[PodInfo]:
        pods = self._by_node.get(node_name)
        return list(pods.values()) if pods else []


class SchedulingQueue:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        initial_backoff: float = 1.0,
        max_backoff: float = 10.0,
        max_unschedulable: float = 60.0,
        interested_plugins: Callable[[Event], set[str]] | None = None,
    ) -> None:
        self.clock = clock
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_unschedulable = max_unschedulable
        self._interested = interested_plugins or (lambda _event: set())
        self._seq = itertools.count()
        self._active: list[tuple[int, float, int, QueuedPodInfo]] = []
        self._in_active: dict[str, QueuedPodInfo] = {}
        self._backoff: list[tuple[float, int, QueuedPodInfo]] = []
        self._in_backoff: dict[str, QueuedPodInfo] = {}
        self.unschedulable: dict[str, QueuedPodInfo] = {}
        self.in_flight: dict[str, QueuedPodInfo] = {}
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self._wakeup: asyncio.Event | None = None
        self.closed = False

    # ------------------------------------------------------------------ inspection

    def __len__(self) -> int:
        return len(self._in_active) + len(self._in_backoff) + len(self.unschedulable)

    def pending(self) -> dict[str, list[str]]:
        """Keys per queue, for tests and debugging."""
        return {"active": sorted(self._in_active), "backoff": sorted(self._in_backoff),
                "unschedulable": sorted(self.unschedulable), "in_flight": sorted(self.in_flight)}

    def where(self, key: str) -> str | None:
        for name, place in (("active", self._in_active), ("backoff", self._in_backoff),
                            ("unschedulable", self.unschedulable), ("in_flight", self.in_flight)):
            if key in place:
                return name
        return None

    # ------------------------------------------------------------------ heaps

    def _push_active(self, qpi: QueuedPodInfo) -> None:
        self._in_active[qpi.key] = qpi
        heapq.heappush(self._active, (-qpi.pod.priority, qpi.timestamp, next(self._seq), qpi))
        if self._wakeup is not None:
            self._wakeup.set()

    def _push_backoff(self, qpi: QueuedPodInfo) -> None:
        self._in_backoff[qpi.key] = qpi
        heapq.heappush(self._backoff, (self.backoff_expiry(qpi), next(self._seq), qpi))

    def backoff_duration(self, qpi: QueuedPodInfo) -> float:
        duration = self.initial_backoff
        for _ in range(1, qpi.attempts):
            duration *= 2
            if duration >= self.max_backoff:
                return self.max_backoff
        return min(duration, self.max_backoff)

    def backoff_expiry(self, qpi: QueuedPodInfo) -> float:
        return qpi.timestamp + self.backoff_duration(qpi)

    def _backing_off(self, qpi: QueuedPodInfo) -> bool:
        return qpi.attempts > 0 and self.backoff_expiry(qpi) > self.clock()

    def _take(self, key: str) -> QueuedPodInfo | None:
        """Remove a pod from whichever waiting place holds it (heaps are cleaned lazily)."""
        return self._in_active.pop(key, None) or self._in_backoff.pop(key, None) or self.unschedulable.pop(key, None)

    def _move(self, qpi: QueuedPodInfo) -> None:
        """Out of unschedulablePods: to backoffQ while still backing off, else to activeQ."""
        if self._backing_off(qpi):
            self._push_backoff(qpi)
        else:
            self._push_active(qpi)

    # ------------------------------------------------------------------ informer side

    def add(self, pod: PodInfo) -> None:
        """A new pending pod (or one seen again): straight to activeQ."""
        if self.where(pod.key):
            self.update(pod)
            return
        self._push_active(QueuedPodInfo(pod, self.clock()))

    def update(self, pod: PodInfo, relevant: bool = True) -> None:
        """A pending pod changed. In unschedulablePods it moves on only if the change may help (`relevant`)."""
        key = pod.key
        if key in self.in_flight:
            self.in_flight[key].pod = pod
            self.in_flight[key].updated_in_flight = self.in_flight[key].updated_in_flight or relevant
            return
        if key in self._in_active:
            qpi = self._in_active.pop(key)
            qpi.pod = pod
            self._push_active(qpi)  # the priority may have changed
            return
        if key in self._in_backoff:
            self._in_backoff[key].pod = pod
            return
        if key in self.unschedulable:
            qpi = self.unschedulable[key]
            qpi.pod = pod
            if relevant:
                del self.unschedulable[key]
                self._move(qpi)
            return
        self._push_active(QueuedPodInfo(pod, self.clock()))

    def delete(self, key: str) -> None:
        self._take(key)
        qpi = self.in_flight.get(key)
        if qpi is not None:
            qpi.updated_in_flight = False

    # ------------------------------------------------------------------ scheduler side

    async def pop(self) -> QueuedPodInfo:
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        while True:
            while self._active:
                _, _, _, qpi = heapq.heappop(self._active)
                if self._in_active.get(qpi.key) is not qpi:
                    continue  # stale heap entry
                del self._in_active[qpi.key]
                qpi.attempts += 1
                if qpi.initial_attempt is None:
                    qpi.initial_attempt = self.clock()
                qpi.updated_in_flight = False
                self.scheduling_cycle += 1
                self.in_flight[qpi.key] = qpi
                return qpi
            if self.closed:
                raise asyncio.CancelledError("scheduling queue closed")
            self._wakeup.clear()
            await self._wakeup.wait()

    def done(self, key: str) -> None:
        self.in_flight.pop(key, None)

    def add_unschedulable(self, qpi: QueuedPodInfo, pod_cycle: int) -> None:
        """No node fits: park the pod until something relevant changes (or back-off if something already did)."""
        self.in_flight.pop(qpi.key, None)
        if self.where(qpi.key):
            return
        qpi.timestamp = self.clock()
        if qpi.updated_in_flight or self.move_request_cycle >= pod_cycle:
            self._push_backoff(qpi) if self._backing_off(qpi) else self._push_active(qpi)
        else:
            self.unschedulable[qpi.key] = qpi

    def add_backoff(self, qpi: QueuedPodInfo) -> None:
        """An error (API failure, binding conflict): retry after the pod's back-off."""
        self.in_flight.pop(qpi.key, None)
        if self.where(qpi.key):
            return
        qpi.timestamp = self.clock()
        self._push_backoff(qpi)

    def move_all(self, event: Event, only: Iterable[str] | None = None) -> int:
        """A cluster event happened: move the waiting pods it may help (those rejected by an interested plugin,
        or by none in particular) out of unschedulablePods. Returns how many moved."""
        interested = self._interested(event)
        moved = 0
        keys = list(only) if only is not None else list(self.unschedulable)
        for key in keys:
            qpi = self.unschedulable.get(key)
            if qpi is None:
                continue
            if event is Event.FORCE or not qpi.unschedulable_plugins or qpi.unschedulable_plugins & interested:
                del self.unschedulable[key]
                self._move(qpi)
                moved += 1
        self.move_request_cycle = self.scheduling_cycle
        return moved

    def flush_backoff_completed(self) -> None:
        now = self.clock()
        while self._backoff and self._backoff[0][0] <= now:
            _, _, qpi = heapq.heappop(self._backoff)
            if self._in_backoff.get(qpi.key) is not qpi:
                continue
            del self._in_backoff[qpi.key]
            self._push_active(qpi)

    def flush_unschedulable_leftover(self) -> None:
        now = self.clock()
        stale = [k for k, q in self.unschedulable.items() if now - q.timestamp >= self.max_unschedulable]
        if stale:
            self.move_all(Event.FORCE, stale)

    async def run(self, backoff_tick: float = 1.0, leftover_tick: float = 30.0) -> None:
        """Periodic flushes, as kube-scheduler does (back-off every second, leftovers every 30 s)."""
        last_leftover = self.clock()
        tick = min(backoff_tick, leftover_tick, self.max_unschedulable)
        while True:
            await asyncio.sleep(tick)
            self.flush_backoff_completed()
            if self.clock() - last_leftover >= min(leftover_tick, self.max_unschedulable):
                last_leftover = self.clock()
                self.flush_unschedulable_leftover()

    def close(self) -> None:
        self.closed = True
        if self._wakeup is not None:
            self._wakeup.set()
