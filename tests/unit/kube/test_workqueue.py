"""The work queue: merged adds, no concurrent processing of a key, re-queue on done, back-off."""

from __future__ import annotations

import asyncio

from kube.workqueue import WorkQueue


async def test_repeated_adds_merge() -> None:
    q = WorkQueue()
    q.add("a")
    q.add("a")
    q.add("b")
    assert len(q) == 2
    assert await q.get() == "a"
    assert await q.get() == "b"


async def test_key_added_while_processing_comes_back_after_done() -> None:
    q = WorkQueue()
    q.add("a")
    key = await q.get()
    q.add("a")  # changed again while a worker holds it
    assert len(q) == 0  # ...but not handed to a second worker
    q.done(key)
    assert len(q) == 1
    assert await asyncio.wait_for(q.get(), 1) == "a"


async def test_rate_limited_retries_back_off_and_forget_resets() -> None:
    q = WorkQueue(base_delay=0.05, max_delay=1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    q.add_rate_limited("a")
    assert await asyncio.wait_for(q.get(), 1) == "a"
    q.done("a")
    first = loop.time() - start
    q.add_rate_limited("a")
    assert await asyncio.wait_for(q.get(), 1) == "a"
    second = loop.time() - start - first
    assert first >= 0.04 and second >= 0.09  # 0.05 then 0.1
    assert q.retries("a") == 2
    q.forget("a")
    assert q.retries("a") == 0


async def test_get_waits_for_an_add() -> None:
    q = WorkQueue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0.01)
    assert not getter.done()
    q.add("x")
    assert await asyncio.wait_for(getter, 1) == "x"
