"""InterPodAffinity: required affinity (including the first pod of a self-selecting group), required anti-affinity,
existing pods' anti-affinity, topology keys other than the hostname, namespaces, and the preferred-term score."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler.framework import Code, CycleState, FitError, Handle
from scheduler.plugins.interpodaffinity import InterPodAffinity
from tests.unit.scheduler.factories import cluster, info, node, pod, profile

HOST = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"


def term(labels: dict[str, str], key: str = HOST, **extra: Any) -> dict:
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": key, **extra}


def anti(*terms: dict) -> dict:
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}}


def affinity(*terms: dict) -> dict:
    return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}}


def zones() -> list[dict]:
    return [node("a1", labels={ZONE: "a"}), node("a2", labels={ZONE: "a"}), node("b1", labels={ZONE: "b"})]


def feasible(cache: Any, p: dict, namespaces: dict | None = None) -> dict[str, str | None]:
    plugin = InterPodAffinity(None, Handle(cache, lambda ns: (namespaces or {}).get(ns, {})))
    state = CycleState()
    pi = info(p)
    pre = plugin.pre_filter(state, pi)
    if pre is not None and pre.code == Code.SKIP:
        return {n.name: None for n in cache.node_list()}
    out = {}
    for n in cache.node_list():
        status = plugin.filter(state, pi, n)
        out[n.name] = status.reasons[0] if status else None
    return out


def test_required_anti_affinity_keeps_replicas_apart() -> None:
    web = {"app": "web"}
    cache = cluster(*zones(), pods=[pod("w1", labels=web, node_name="a1", affinity=anti(term(web)))])
    result = feasible(cache, pod("w2", labels=web, affinity=anti(term(web))))
    assert result == {"a1": "node(s) didn't match pod anti-affinity rules", "a2": None, "b1": None}


def test_anti_affinity_over_zones() -> None:
    web = {"app": "web"}
    cache = cluster(*zones(), pods=[pod("w1", labels=web, node_name="a1")])
    result = feasible(cache, pod("w2", labels=web, affinity=anti(term(web, ZONE))))
    assert result["a2"] == "node(s) didn't match pod anti-affinity rules" and result["b1"] is None


def test_existing_pods_anti_affinity_is_honoured() -> None:
    cache = cluster(*zones(), pods=[pod("loner", node_name="b1", affinity=anti(term({"app": "web"})))])
    result = feasible(cache, pod("w", labels={"app": "web"}))
    assert result == {"a1": None, "a2": None, "b1": "node(s) didn't satisfy existing pods anti-affinity rules"}


def test_required_affinity_follows_the_matching_pods_domain() -> None:
    cache = cluster(*zones(), pods=[pod("db", labels={"app": "db"}, node_name="a2")])
    result = feasible(cache, pod("cache", affinity=affinity(term({"app": "db"}, ZONE))))
    assert result == {"a1": None, "a2": None, "b1": "node(s) didn't match pod affinity rules"}


def test_the_first_pod_of_a_self_selecting_group_may_go_anywhere() -> None:
    cache = cluster(*zones())
    group = {"app": "group"}
    assert set(feasible(cache, pod("g1", labels=group, affinity=affinity(term(group, ZONE)))).values()) == {None}
    no_match = feasible(cache, pod("lonely", affinity=affinity(term({"app": "absent"}, ZONE))))
    assert set(no_match.values()) == {"node(s) didn't match pod affinity rules"}


def test_affinity_needs_the_topology_label_on_the_node() -> None:
    cache = cluster(node("zoned", labels={ZONE: "a"}), node("bare"),
                    pods=[pod("db", labels={"app": "db"}, node_name="zoned")])
    result = feasible(cache, pod("c", affinity=affinity(term({"app": "db"}, ZONE))))
    assert result == {"zoned": None, "bare": "node(s) didn't match pod affinity rules"}


def test_terms_look_in_the_pods_namespace_unless_told_otherwise() -> None:
    web = {"app": "web"}
    cache = cluster(*zones(), pods=[pod("w1", namespace="other", labels=web, node_name="a1")])
    assert feasible(cache, pod("w2", labels=web, affinity=anti(term(web))))["a1"] is None
    listed = pod("w3", labels=web, affinity=anti(term(web, namespaces=["other"])))
    assert feasible(cache, listed)["a1"] is not None
    by_label = pod("w4", labels=web, affinity=anti(term(web, namespaceSelector={"matchLabels": {"team": "x"}})))
    assert feasible(cache, by_label, {"other": {"team": "x"}})["a1"] is not None
    assert feasible(cache, by_label, {"other": {"team": "y"}})["a1"] is None


def test_preferred_terms_score_and_normalise() -> None:
    cache = cluster(*zones(), pods=[pod("db", labels={"app": "db"}, node_name="a1")])
    plugin = InterPodAffinity(None, Handle(cache))
    nodes = cache.node_list()
    near = info(pod("near", affinity={"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "podAffinityTerm": term({"app": "db"}, ZONE)}]}}))
    state = CycleState()
    assert plugin.pre_score(state, near, nodes) is None
    scores = [plugin.score(state, near, n) for n in nodes]
    assert scores == [50, 50, 0]
    plugin.normalize_score(state, near, scores, nodes)
    assert scores == [100, 100, 0]
    far = info(pod("far", affinity={"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 20, "podAffinityTerm": term({"app": "db"})}]}}))
    state = CycleState()
    plugin.pre_score(state, far, nodes)
    scores = [plugin.score(state, far, n) for n in nodes]
    plugin.normalize_score(state, far, scores, nodes)
    assert scores == [0, 100, 100]


def test_existing_pods_required_affinity_attracts_matching_pods() -> None:
    cache = cluster(*zones(), pods=[pod("fan", node_name="b1", affinity=affinity(term({"app": "idol"}, ZONE)))])
    plugin = InterPodAffinity(None, Handle(cache))
    idol = info(pod("idol", labels={"app": "idol"}))
    state = CycleState()
    assert plugin.pre_score(state, idol, cache.node_list()) is None
    assert [plugin.score(state, idol, n) for n in cache.node_list()] == [0, 0, 1]
    assert plugin.pre_score(CycleState(), info(pod("plain")), cache.node_list()) is None


def test_no_affinity_anywhere_skips() -> None:
    cache = cluster(*zones(), pods=[pod("x", node_name="a1")])
    plugin = InterPodAffinity(None, Handle(cache))
    assert plugin.pre_filter(CycleState(), info(pod("p"))).code == Code.SKIP
    assert plugin.pre_score(CycleState(), info(pod("p")), cache.node_list()).code == Code.SKIP


def test_four_replicas_with_anti_affinity_on_three_nodes_through_the_profile() -> None:
    web = {"app": "web"}
    cache = cluster(node("n1"), node("n2"), node("n3"))
    prof = profile(cache)
    placed = []
    for i in range(3):
        pi = info(pod(f"w{i}", labels=web, affinity=anti(term(web))))
        result = prof.schedule(pi)
        cache.assume(pi, result.node)
        placed.append(result.node)
    assert sorted(placed) == ["n1", "n2", "n3"]
    with pytest.raises(FitError) as err:
        prof.schedule(info(pod("w3", labels=web, affinity=anti(term(web)))))
    assert str(err.value) == "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."
    assert err.value.unschedulable_plugins == {"InterPodAffinity"}


def test_add_and_remove_pod_keep_the_counts_right() -> None:
    web = {"app": "web"}
    cache = cluster(*zones(), pods=[pod("w1", labels=web, node_name="a1")])
    plugin = InterPodAffinity(None, Handle(cache))
    incoming = info(pod("w2", labels=web, affinity=anti(term(web))))
    state = CycleState()
    plugin.pre_filter(state, incoming)
    a1 = cache.node("a1")
    assert plugin.filter(state, incoming, a1) is not None
    clone = state.clone()
    plugin.remove_pod(clone, incoming, cache.pod("default/w1"), a1)
    assert plugin.filter(clone, incoming, a1) is None
    assert plugin.filter(state, incoming, a1) is not None  # the original state is untouched
