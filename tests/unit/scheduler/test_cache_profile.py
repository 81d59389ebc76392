"""The cache (assume, confirm, forget; pods on nodes not seen yet; node removal) and the profile's cycle
(percentageOfNodesToScore, rotation, PreFilter rejections, no nodes)."""

from __future__ import annotations

import pytest

from scheduler.framework import FitError
from scheduler.profile import num_feasible_nodes_to_find
from tests.unit.scheduler.factories import cluster, info, node, pod, profile


def test_assume_then_the_informer_confirms_elsewhere() -> None:
    cache = cluster(node("n1"), node("n2"))
    p = info(pod("p", "1"))
    cache.assume(p, "n1")
    assert cache.is_assumed("default/p") and cache.node("n1").req_cpu == 1000
    cache.add_pod(info(pod("p", "1", node_name="n2")))  # bound elsewhere (another scheduler won a race)
    assert not cache.is_assumed("default/p")
    assert cache.node("n1").req_cpu == 0 and cache.node("n2").req_cpu == 1000
    cache.forget("default/p")  # not assumed any more: no effect
    assert cache.node("n2").req_cpu == 1000


def test_pods_on_an_unknown_node_count_once_it_appears() -> None:
    cache = cluster()
    cache.add_pod(info(pod("early", "2", node_name="late")))
    assert cache.node("late") is None and cache.num_nodes() == 0
    cache.add_node(node("late", cpu="3"))
    assert cache.node("late").req_cpu == 2000
    cache.remove_node("late")
    assert cache.node("late") is None and cache.pod("default/early") is not None
    cache.remove_pod("default/early")
    assert cache.pod_count() == 0


def test_counters_for_skipping() -> None:
    cache = cluster(node("a", taints=[{"key": "k", "effect": "NoSchedule"}]), node("b", unschedulable=True),
                    node("c", ready="False"))
    assert (cache.hard_tainted_nodes, cache.unschedulable_nodes, cache.not_ready_nodes) == (1, 1, 1)
    cache.update_node(node("a"))
    cache.remove_node("b")
    assert (cache.hard_tainted_nodes, cache.unschedulable_nodes, cache.not_ready_nodes) == (0, 0, 1)


@pytest.mark.parametrize(("nodes", "percentage", "expected"),
                         [(50, 0, 50), (100, 0, 100), (1000, 0, 420), (5000, 0, 500), (1000, 10, 100),
                          (1000, 100, 1000), (6000, 0, 300)])
def test_percentage_of_nodes_to_score(nodes: int, percentage: int, expected: int) -> None:
    assert num_feasible_nodes_to_find(nodes, percentage) == expected


def test_feasible_search_stops_early_and_rotates() -> None:
    cache = cluster(*(node(f"n{i:03d}") for i in range(200)))
    prof = profile(cache)
    first = prof.schedule(info(pod("a")))
    assert first.evaluated == 100 and first.feasible == 100
    assert prof.next_start == 100
    second = prof.schedule(info(pod("b")))
    assert second.node >= "n100"


def test_no_nodes_and_prefilter_rejections() -> None:
    with pytest.raises(FitError) as err:
        profile(cluster()).schedule(info(pod("p")))
    assert str(err.value) == "no nodes available to schedule pods"
    bad = pod("p", affinity={"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
         "topologyKey": "zone"}]}})
    with pytest.raises(FitError) as err:
        profile(cluster(node("n1"))).schedule(info(bad))
    assert str(err.value).startswith("0/1 nodes are available: invalid affinity:")


def test_the_untolerated_taint_message_from_the_issue() -> None:
    control = node("cp", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
    cache = cluster(control, node("w1", cpu="1"), node("w2", cpu="1"))
    with pytest.raises(FitError) as err:
        profile(cache).schedule(info(pod("p", "2")))
    assert str(err.value) == ("0/3 nodes are available: 1 node(s) had untolerated taint "
                              "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu.")
    assert err.value.unschedulable_plugins == {"TaintToleration", "NodeResourcesFit"}


def test_least_allocated_spreads_plain_pods() -> None:
    cache = cluster(node("n1"), node("n2"), node("n3"))
    prof = profile(cache)
    for i in range(9):
        p = info(pod(f"p{i}", "100m", "100Mi"))
        cache.assume(p, prof.schedule(p).node)
    assert sorted(len(n.pods) for n in cache.node_list()) == [3, 3, 3]


def test_node_affinity_naming_nodes_narrows_the_search_like_daemonset_pods() -> None:
    cache = cluster(node("n1", cpu="1"), node("n2"), node("n3"), pods=[pod("big", "900m", node_name="n1")])
    pinned = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}}}
    with pytest.raises(FitError) as err:
        profile(cache).schedule(info(pod("ds", "500m", affinity=pinned)))
    assert str(err.value) == ("0/3 nodes are available: 1 Insufficient cpu, "
                              "2 node(s) didn't satisfy plugin(s) [NodeAffinity].")
    assert profile(cache).schedule(info(pod("small", "50m", affinity=pinned))).node == "n1"
    conflicting = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]},
                         {"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]}}}
    with pytest.raises(FitError) as err:
        profile(cache).schedule(info(pod("nowhere", affinity=conflicting)))
    assert str(err.value) == "0/3 nodes are available: pod affinity terms conflict."
