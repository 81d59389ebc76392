"""How a change looks to a filtered watcher: objects entering and leaving a selector."""

from __future__ import annotations

from apiserver.watchcache import CacheEvent, translate


def obj(node: str) -> dict:
    return {"metadata": {"name": "p", "resourceVersion": "1"}, "spec": {"nodeName": node}}


def on_n1(o: dict) -> bool:
    return o["spec"]["nodeName"] == "n1"


def test_entering_leaving_and_staying() -> None:
    assert translate(CacheEvent(2, "k", obj("n1"), None), on_n1)[0] == "ADDED"
    assert translate(CacheEvent(2, "k", obj("n1"), obj("")), on_n1)[0] == "ADDED"
    assert translate(CacheEvent(2, "k", obj("n1"), obj("n1")), on_n1)[0] == "MODIFIED"
    assert translate(CacheEvent(2, "k", obj("n2"), obj("n1")), on_n1)[0] == "DELETED"
    assert translate(CacheEvent(2, "k", obj("n2"), obj("n3")), on_n1) is None


def test_deletion_carries_the_deletion_revision() -> None:
    kind, gone = translate(CacheEvent(7, "k", None, obj("n1")), on_n1)
    assert kind == "DELETED" and gone["metadata"]["resourceVersion"] == "7"
    assert translate(CacheEvent(7, "k", None, obj("n2")), on_n1) is None
