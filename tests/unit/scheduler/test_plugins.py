"""Scheduler filters and scores, one table-driven case per behaviour."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler.framework import NodeInfo, Status, failure_message, pod_requests
from scheduler.plugins import default_plugins
from scheduler.plugins.noderesources import LeastAllocated, NodeResourcesFit
from scheduler.plugins.nodeselector import NodeSelector
from scheduler.plugins.nodeunschedulable import NodeReady, NodeUnschedulable


def node(name: str = "n", cpu: str = "2", memory: str = "4Gi", pods: str = "110", ready: str = "True",
         **spec: Any) -> dict:
    return {"metadata": {"name": name, "labels": {"disk": "ssd"}}, "spec": spec,
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
                       "conditions": [{"type": "Ready", "status": ready}]}}


def pod(cpu: str | None = None, memory: str | None = None, **spec: Any) -> dict:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    return {"metadata": {"name": "p", "namespace": "d"},
            "spec": {"containers": [{"name": "c", "image": "i", "resources": {"requests": requests}}], **spec}}


def test_pod_requests_sum_containers_and_take_the_largest_init_container() -> None:
    p = pod("100m", "1Mi")
    p["spec"]["containers"].append({"name": "d", "resources": {"requests": {"cpu": "200m"}}})
    p["spec"]["initContainers"] = [{"name": "i", "resources": {"requests": {"cpu": "1"}}}]
    assert pod_requests(p) == {"cpu": 1000, "memory": 2**20}


@pytest.mark.parametrize(
    ("placed", "new", "reasons"),
    [
        pytest.param([], pod("1"), (), id="fits-empty-node"),
        pytest.param([pod("1500m")], pod("600m"), ("Insufficient cpu",), id="cpu-full"),
        pytest.param([pod(memory="3Gi")], pod(memory="2Gi"), ("Insufficient memory",), id="memory-full"),
        pytest.param([pod("1500m", "3Gi")], pod("1", "2Gi"), ("Insufficient cpu", "Insufficient memory"),
                     id="both-reported"),
    ],
)
def test_resources_fit(placed: list[dict], new: dict, reasons: tuple[str, ...]) -> None:
    info = NodeInfo(node())
    for p in placed:
        info.add_pod(p)
    assert NodeResourcesFit().filter(new, info) == Status(reasons)


def test_pod_count_limit() -> None:
    info = NodeInfo(node(pods="1"))
    info.add_pod(pod())
    assert NodeResourcesFit().filter(pod(), info).reasons == ("Too many pods",)


def test_cordoned_not_ready_and_selector_filters() -> None:
    assert not NodeUnschedulable().filter(pod(), NodeInfo(node(unschedulable=True))).ok
    assert not NodeReady().filter(pod(), NodeInfo(node(ready="False"))).ok
    assert NodeSelector().filter(pod(nodeSelector={"disk": "ssd"}), NodeInfo(node())).ok
    assert not NodeSelector().filter(pod(nodeSelector={"disk": "hdd"}), NodeInfo(node())).ok


def test_least_allocated_prefers_emptier_nodes() -> None:
    busy, idle = NodeInfo(node("busy")), NodeInfo(node("idle"))
    busy.add_pod(pod("1500m", "3Gi"))
    scorer = LeastAllocated()
    assert scorer.score(pod("100m"), idle) > scorer.score(pod("100m"), busy)


def test_failure_message_counts_reasons_like_kube_scheduler() -> None:
    failures = {"a": Status(("Insufficient cpu",)), "b": Status(("node(s) were unschedulable",)),
                "c": Status(("Insufficient cpu",))}
    assert failure_message(3, failures) == (
        "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu.")


def test_default_profile_has_filters_and_scores() -> None:
    filters, scores = default_plugins()
    assert {f.name for f in filters} >= {"NodeResourcesFit", "NodeUnschedulable", "NodeAffinity"}
    assert scores
