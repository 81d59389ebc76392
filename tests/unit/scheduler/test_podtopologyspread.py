"""PodTopologySpread: DoNotSchedule skew checks (missing label, minDomains, node inclusion policies), the
ScheduleAnyway score, and the system default spreading of an app's replicas (Service/ReplicaSet selectors)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from kube import labels as klabels
from scheduler.framework import Code, CycleState, FitError, Handle, PodInfo
from scheduler.plugins.podtopologyspread import PodTopologySpread
from tests.unit.scheduler.factories import cluster, info, node, pod, profile

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def spread(key: str = ZONE, skew: int = 1, when: str = "DoNotSchedule", **extra: Any) -> dict:
    return {"maxSkew": skew, "topologyKey": key, "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": {"app": "web"}}, **extra}


def web(name: str, node_name: str | None = None, **spec: Any) -> dict:
    return pod(name, labels={"app": "web"}, node_name=node_name, **spec)


def zoned() -> list[dict]:
    return [node("a1", labels={ZONE: "a"}), node("a2", labels={ZONE: "a"}), node("b1", labels={ZONE: "b"}),
            node("c1", labels={ZONE: "c"})]


def filter_all(cache: Any, p: dict, selector: Any = None) -> dict[str, str | None]:
    plugin = PodTopologySpread(None, Handle(cache, default_selector=selector))
    state = CycleState()
    pi = info(p)
    pre = plugin.pre_filter(state, pi)
    if pre is not None:
        return {"pre": pre.code.name}
    return {n.name: (s.reasons[0] if (s := plugin.filter(state, pi, n)) else None) for n in cache.node_list()}


def test_skew_over_zones() -> None:
    cache = cluster(*zoned(), pods=[web("w1", "a1"), web("w2", "b1")])
    result = filter_all(cache, web("w3", topologySpreadConstraints=[spread()]))
    assert result == {"a1": "node(s) didn't match pod topology spread constraints",
                      "a2": "node(s) didn't match pod topology spread constraints", "b1": result["b1"], "c1": None}
    assert result["b1"] is not None


def test_missing_topology_label_is_unresolvable() -> None:
    cache = cluster(node("zoned", labels={ZONE: "a"}), node("bare"))
    plugin = PodTopologySpread(None, Handle(cache))
    state = CycleState()
    p = info(web("w", topologySpreadConstraints=[spread()]))
    plugin.pre_filter(state, p)
    status = plugin.filter(state, p, cache.node("bare"))
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == ("node(s) didn't match pod topology spread constraints (missing required label)",)


def test_min_domains_treats_the_global_minimum_as_zero() -> None:
    cache = cluster(node("a1", labels={ZONE: "a"}), node("b1", labels={ZONE: "b"}),
                    pods=[web("w1", "a1"), web("w2", "b1")])
    # Two domains, each with one pod: skew 1 is fine, unless minDomains says there should be 3 domains.
    assert set(filter_all(cache, web("w3", topologySpreadConstraints=[spread()])).values()) == {None}
    strict = filter_all(cache, web("w3", topologySpreadConstraints=[spread(minDomains=3)]))
    assert set(strict.values()) == {"node(s) didn't match pod topology spread constraints"}


def test_node_affinity_policy_honor_ignores_nodes_the_pod_cannot_use() -> None:
    nodes = zoned()
    nodes[3]["metadata"]["labels"]["pool"] = "other"
    for n in nodes[:3]:
        n["metadata"]["labels"]["pool"] = "main"
    cache = cluster(*nodes, pods=[web("w1", "a1"), web("w2", "b1")])
    # Zone c is out of the pod's pool: with Honor it does not drag the minimum to 0.
    honored = filter_all(cache, web("w3", nodeSelector={"pool": "main"}, topologySpreadConstraints=[spread()]))
    assert honored["a2"] is None and honored["b1"] is None
    ignored = filter_all(cache, web("w3", nodeSelector={"pool": "main"},
                                    topologySpreadConstraints=[spread(nodeAffinityPolicy="Ignore")]))
    assert ignored["a2"] is not None and ignored["b1"] is not None


def test_schedule_anyway_only_scores() -> None:
    cache = cluster(*zoned(), pods=[web("w1", "a1"), web("w2", "a2"), web("w3", "b1")])
    assert filter_all(cache, web("w", topologySpreadConstraints=[spread(when="ScheduleAnyway")])) == {"pre": "SKIP"}
    plugin = PodTopologySpread(None, Handle(cache))
    p = info(web("w", topologySpreadConstraints=[spread(when="ScheduleAnyway")]))
    nodes = cache.node_list()
    state = CycleState()
    assert plugin.pre_score(state, p, nodes) is None
    raw = [plugin.score(state, p, n) for n in nodes]
    # log(3 zones + 2) = 1.609: zone a has 2 pods -> 3.22 -> 3; zone b 1.61 -> 2; zone c 0.
    assert raw == [3, 3, 2, 0]
    plugin.normalize_score(state, p, raw, nodes)
    assert raw == [100 * (3 + 0 - 3) // 3, 0, 100 * (3 + 0 - 2) // 3, 100]


def selector_for(app: str) -> Any:
    def select(p: PodInfo) -> klabels.Selector | None:
        return klabels.from_label_selector({"matchLabels": {"app": app}}) if p.labels.get("app") == app else None
    return select


def test_default_spreading_puts_six_replicas_two_per_node() -> None:
    cache = cluster(node("n1"), node("n2"), node("n3"))
    prof = profile(cache, default_selector=selector_for("web"))
    for i in range(6):
        pi = info(pod(f"w{i}", "100m", "64Mi", labels={"app": "web"}))
        cache.assume(pi, prof.schedule(pi).node)
    per_node = Counter(p.node_name for n in cache.node_list() for p in n.pods.values())
    assert sorted(per_node.values()) == [2, 2, 2]


def test_default_spreading_beats_a_slightly_emptier_node() -> None:
    cache = cluster(node("n1"), node("n2"), pods=[pod("other", "200m", node_name="n2")])
    prof = profile(cache, default_selector=selector_for("web"))
    first = info(pod("w0", "100m", labels={"app": "web"}))
    assert prof.schedule(first).node == "n1"
    cache.assume(first, "n1")
    second = info(pod("w1", "100m", labels={"app": "web"}))
    assert prof.schedule(second).node == "n2"  # n2 is busier, but has no replica yet


def test_hard_constraint_through_the_profile_message() -> None:
    cache = cluster(node("a1", labels={ZONE: "a"}), node("b1", labels={ZONE: "b"}),
                    pods=[web("w1", "a1"), web("w2", "a1")])
    prof = profile(cache)
    p = info(web("w3", nodeSelector={ZONE: "a"}, topologySpreadConstraints=[spread(nodeAffinityPolicy="Ignore")]))
    with pytest.raises(FitError) as err:
        prof.schedule(p)
    assert str(err.value) == ("0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
                              "1 node(s) didn't match pod topology spread constraints.")


def test_batch_scores_agree_with_per_node_scores_for_the_defaults() -> None:
    nodes = [node(f"n{i}", labels={ZONE: f"z{i % 2}"}) for i in range(4)] + [node("unzoned")]
    cache = cluster(*nodes, pods=[pod(f"w{i}", labels={"app": "web"}, node_name=f"n{i % 3}") for i in range(5)])
    plugin = PodTopologySpread(None, Handle(cache, default_selector=selector_for("web")))
    p = info(pod("new", labels={"app": "web"}))
    state = CycleState()
    assert plugin.pre_score(state, p, cache.node_list()) is None
    per_node = [plugin.score(state, p, n) for n in cache.node_list()]
    assert plugin.score_nodes(state, p, cache.node_list()) == per_node
    assert per_node[4] < per_node[3]  # no zone: only the hostname term
