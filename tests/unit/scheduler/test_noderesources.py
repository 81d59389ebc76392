"""NodeResourcesFit (pods count, cpu, memory, extended resources, assumed pods counted) and the resource scores:
LeastAllocated / MostAllocated and BalancedAllocation, with kube-scheduler's arithmetic."""

from __future__ import annotations

import pytest

from scheduler.framework import CycleState, NodeInfo
from scheduler.plugins.noderesources import BalancedAllocation, NodeResourcesFit
from tests.unit.scheduler.factories import cluster, info, node, pod, run_filter


def placed(n: dict, *pods: dict) -> NodeInfo:
    ni = NodeInfo(n)
    for p in pods:
        ni.add_pod(info(p).with_node(ni.name))
    return ni


@pytest.mark.parametrize(
    ("existing", "new", "reasons"),
    [
        pytest.param([], pod("p", "1"), None, id="fits-empty-node"),
        pytest.param([pod("a", "1500m")], pod("p", "600m"), ("Insufficient cpu",), id="cpu-full"),
        pytest.param([pod("a", memory="3Gi")], pod("p", memory="2Gi"), ("Insufficient memory",), id="memory-full"),
        pytest.param([pod("a", "1500m", "3Gi")], pod("p", "1", "2Gi"), ("Insufficient cpu", "Insufficient memory"),
                     id="both-reported"),
        pytest.param([pod("a", "1500m")], pod("p", "500m"), None, id="exactly-full-fits"),
        pytest.param([], pod("p", requests={"example.com/gpu": "1"}), ("Insufficient example.com/gpu",),
                     id="extended-resource-absent"),
    ],
)
def test_fit(existing: list, new: dict, reasons: tuple | None) -> None:
    status = run_filter(NodeResourcesFit(), new, placed(node(cpu="2", memory="4Gi"), *existing))
    assert (status.reasons if status else None) == reasons


def test_fit_counts_pods_and_extended_resources() -> None:
    full = placed(node(pods="1"), pod("a"))
    assert run_filter(NodeResourcesFit(), pod("p"), full).reasons == ("Too many pods",)
    gpus = node(**{"example.com/gpu": "2"})
    assert run_filter(NodeResourcesFit(), pod("p", requests={"example.com/gpu": "2"}), placed(gpus)) is None
    one_used = placed(gpus, pod("a", requests={"example.com/gpu": "1"}))
    assert run_filter(NodeResourcesFit(), pod("p", requests={"example.com/gpu": "2"}), one_used).reasons == (
        "Insufficient example.com/gpu",)


def test_fit_counts_assumed_pods() -> None:
    cache = cluster(node("n1", cpu="1"))
    cache.assume(info(pod("a", "600m")), "n1")
    assert run_filter(NodeResourcesFit(), pod("b", "600m"), cache.node("n1")).reasons == ("Insufficient cpu",)
    cache.forget("default/a")
    assert run_filter(NodeResourcesFit(), pod("b", "600m"), cache.node("n1")) is None


def test_batch_filter_agrees_with_the_single_one() -> None:
    plugin = NodeResourcesFit()
    nodes = [placed(node("a", cpu="1")), placed(node("b", cpu="1"), pod("x", "800m", "1Mi")),
             placed(node("c", pods="1"), pod("y", "1m", "1Mi"))]
    p = info(pod("p", "500m", "10Mi"))
    state = CycleState()
    assert plugin.filter_nodes(state, p, nodes) == [plugin.filter(state, p, n) for n in nodes]


def test_least_allocated_uses_non_zero_requests() -> None:
    plugin = NodeResourcesFit()
    n = placed(node(cpu="1", memory="1000Mi"), pod("a", "500m", "500Mi"))
    p = info(pod("p", "250m", "250Mi"))
    # cpu (1000-750)*100/1000 = 25, memory (1000-750)*100/1000 = 25
    assert plugin.score(CycleState(), p, n) == 25
    assert plugin.score_nodes(CycleState(), p, [n]) == [25]
    empty = info(pod("e"))  # 100m and 200Mi count for scoring
    assert plugin.score(CycleState(), empty, placed(node(cpu="1", memory="1000Mi"))) == (90 + 80) // 2


def test_most_allocated_strategy() -> None:
    plugin = NodeResourcesFit({"scoringStrategy": {"type": "MostAllocated",
                                                   "resources": [{"name": "cpu", "weight": 3},
                                                                 {"name": "memory", "weight": 1}]}})
    n = placed(node(cpu="1", memory="1000Mi"), pod("a", "500m", "100Mi"))
    p = info(pod("p", "250m", "100Mi"))
    assert plugin.score(CycleState(), p, n) == (75 * 3 + 20) // 4


def test_invalid_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="scoringStrategy"):
        NodeResourcesFit({"scoringStrategy": {"type": "RequestedToCapacityRatio"}})


def test_balanced_allocation() -> None:
    plugin = BalancedAllocation()
    n = placed(node(cpu="1", memory="1000Mi"))
    # fractions 0.5 and 0.1: std = 0.2 -> 80
    p = info(pod("p", "500m", "100Mi"))
    assert plugin.score(CycleState(), p, n) == 80
    assert plugin.score_nodes(CycleState(), p, [n]) == [80]
    even = info(pod("q", "300m", "300Mi"))
    assert plugin.score(CycleState(), even, n) == 100
    assert plugin.pre_score(CycleState(), even, [n]) is None
    assert plugin.pre_score(CycleState(), info(pod("best-effort")), [n]).code.name == "SKIP"
