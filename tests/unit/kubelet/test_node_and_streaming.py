"""Node pressure and allocatable from thresholds and reservations; the exec channel protocol (subprotocol
choice, exit Status, and the bridge between a WebSocket and a docker exec session)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from kubelet.node import allocatable, parse_resource_list, parse_thresholds, pressure
from kubelet.streaming import bridge, exec_status, pick_protocol


def test_thresholds_and_pressure() -> None:
    thresholds = parse_thresholds("memory.available<100Mi,nodefs.available<10%,pid.available<5%")
    assert thresholds == {"memory.available": (100 * 2**20, False), "nodefs.available": (10.0, True),
                          "pid.available": (5.0, True)}
    stats = {"memory.available": (50 * 2**20, 8 * 2**30), "nodefs.available": (20.0, 100.0),
             "pid.available": (100.0, 32768.0)}
    assert pressure(stats, thresholds) == {"memory.available": True, "nodefs.available": False,
                                           "pid.available": True}
    for bad in ("memory.available>1", "cpu.available<1", "memory.available<lots"):
        with pytest.raises(ValueError):
            parse_thresholds(bad)


def test_allocatable_subtracts_reservations_and_the_memory_threshold() -> None:
    capacity = {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    reserved = [parse_resource_list("cpu=500m,memory=1Gi"), parse_resource_list("cpu=250m,ephemeral-storage=10Gi")]
    out = allocatable(capacity, reserved, parse_thresholds("memory.available<100Mi"))
    assert out == {"cpu": "3250m", "memory": f"{(7 * 2**30 - 100 * 2**20) // 1024}Ki", "pods": "110",
                   "ephemeral-storage": f"{90 * 2**20}Ki"}
    assert allocatable({"cpu": "1", "memory": "1Gi", "pods": "10"}, [], {})["cpu"] == "1"
    with pytest.raises(ValueError):
        parse_resource_list("cpu")


def test_protocol_choice_and_exit_status() -> None:
    assert pick_protocol(["v4.channel.k8s.io", "v5.channel.k8s.io"]) == "v5.channel.k8s.io"
    assert pick_protocol(["channel.k8s.io"]) is None
    assert exec_status(0) == {"metadata": {}, "status": "Success"}
    failed = exec_status(3)
    assert failed["reason"] == "NonZeroExitCode"
    assert failed["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]


class FakeSession:
    def __init__(self, output: list[tuple[int, bytes]]) -> None:
        self.output = list(output)
        self.stdin = bytearray()
        self.stdin_closed = asyncio.Event()
        self.exec_id = "e1"

    async def read(self) -> tuple[int, bytes] | None:
        await self.stdin_closed.wait()  # like `cat`: output comes once stdin is done
        return self.output.pop(0) if self.output else None

    async def write(self, data: bytes) -> None:
        self.stdin += data

    def close_stdin(self) -> None:
        self.stdin_closed.set()

    def close(self) -> None:
        self.stdin_closed.set()


async def test_bridge_relays_stdin_close_output_and_exit_code() -> None:
    session = FakeSession([(1, b"out"), (2, b"err")])
    incoming = [b"\x00hello", b"\x04" + json.dumps({"Width": 80, "Height": 24}).encode(), b"\xff\x00"]
    sent: list[bytes] = []
    resized: list[tuple[int, int]] = []

    async def receive() -> bytes | None:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(10)
        return None

    async def send(data: bytes) -> None:
        sent.append(data)

    async def resize(h: int, w: int) -> None:
        resized.append((h, w))

    async def exit_code() -> int | None:
        return 3

    session_any: Any = session
    await asyncio.wait_for(bridge(session_any, send, receive, resize, exit_code, "v5.channel.k8s.io", True), 5)
    assert bytes(session.stdin) == b"hello" and resized == [(24, 80)]
    assert sent[:2] == [b"\x01out", b"\x02err"]
    assert sent[2][0] == 3 and json.loads(sent[2][1:])["details"]["causes"][0]["message"] == "3"
