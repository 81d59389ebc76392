"""The kubelet endpoint's pure parts: which container a log request means (current, previous, waiting) and
the listening socket that moves to a free port when the asked one is taken."""

from __future__ import annotations

import socket

import pytest

from kubelet.runtime import RuntimeContainer
from kubelet.server import LogError, bind_socket, pick_container

POD = {"metadata": {"name": "p"},
       "status": {"containerStatuses": [{"name": "c", "state": {"waiting": {"reason": "ErrImagePull"}}}]}}


def instance(attempt: int, state: str) -> RuntimeContainer:
    return RuntimeContainer(id=f"id{attempt}", name="c", pod_uid="u", pod_namespace="n", pod_name="p",
                            attempt=attempt, sandbox=False, state=state)


def test_current_is_the_newest_instance_whatever_its_state() -> None:
    assert pick_container(POD, "c", [instance(2, "running"), instance(1, "exited")], False).id == "id2"
    assert pick_container(POD, "c", [instance(2, "exited")], False).id == "id2"


def test_previous_is_the_last_terminated_instance() -> None:
    assert pick_container(POD, "c", [instance(2, "running"), instance(1, "exited")], True).id == "id1"
    assert pick_container(POD, "c", [instance(3, "exited"), instance(2, "exited")], True).id == "id3"
    with pytest.raises(LogError, match='previous terminated container "c" in pod "p" not found'):
        pick_container(POD, "c", [instance(0, "running")], True)


def test_a_container_not_started_yet_says_why() -> None:
    with pytest.raises(LogError, match='container "c" in pod "p" is waiting to start: ErrImagePull') as info:
        pick_container(POD, "c", [], False)
    assert info.value.status == 400


def test_a_taken_port_falls_back_to_a_free_one() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        sock = bind_socket("127.0.0.1", port)
        try:
            assert sock.getsockname()[1] not in (0, port)
        finally:
            sock.close()
