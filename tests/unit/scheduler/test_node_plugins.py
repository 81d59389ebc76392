"""Filters and scores that look at one node: NodeName, NodeUnschedulable, NodeReady, TaintToleration,
NodeAffinity, NodePorts, ImageLocality. Reasons are kube-scheduler's words; scores are normalised as it does."""

from __future__ import annotations

import pytest

from scheduler.framework import Code, CycleState, Handle, NodeInfo
from scheduler.plugins.imagelocality import ImageLocality
from scheduler.plugins.nodeaffinity import NodeAffinity
from scheduler.plugins.nodename import NodeName
from scheduler.plugins.nodeports import NodePorts
from scheduler.plugins.nodeunschedulable import NodeReady, NodeUnschedulable
from scheduler.plugins.tainttoleration import TaintToleration
from tests.unit.scheduler.factories import cluster, info, node, pod, run_filter


def test_node_name() -> None:
    plugin = NodeName()
    assert run_filter(plugin, pod("x"), node("n1")) is None
    wanted = pod("p")
    wanted["spec"]["nodeName"] = "n2"
    status = run_filter(plugin, wanted, node("n1"))
    assert status.reasons == ("node(s) didn't match the requested node name",)
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert run_filter(plugin, wanted, node("n2")) is None


@pytest.mark.parametrize(
    ("tolerations", "fits"),
    [
        pytest.param([], False, id="cordoned"),
        pytest.param([{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}], True,
                     id="tolerates-unschedulable"),
    ],
)
def test_node_unschedulable(tolerations: list, fits: bool) -> None:
    cache = cluster(node("n1", unschedulable=True))
    status = run_filter(NodeUnschedulable(None, Handle(cache)), pod("p", tolerations=tolerations), cache.node("n1"))
    assert (status is None) is fits
    if not fits:
        assert status.reasons == ("node(s) were unschedulable",)


def test_node_unschedulable_skips_when_no_node_is_cordoned() -> None:
    cache = cluster(node("n1"))
    assert NodeUnschedulable(None, Handle(cache)).pre_filter(CycleState(), info(pod())).code == Code.SKIP


@pytest.mark.parametrize(
    ("ready", "tolerations", "reason"),
    [
        pytest.param("True", [], None, id="ready"),
        pytest.param("False", [], "node(s) had untolerated taint {node.kubernetes.io/not-ready: }", id="not-ready"),
        pytest.param("Unknown", [], "node(s) had untolerated taint {node.kubernetes.io/unreachable: }",
                     id="unreachable"),
        pytest.param(None, [], "node(s) had untolerated taint {node.kubernetes.io/not-ready: }", id="no-condition-yet"),
        pytest.param("False", [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}], None,
                     id="tolerated"),
        pytest.param("False", [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": 300}], "node(s) had untolerated taint "
                                                            "{node.kubernetes.io/not-ready: }",
                     id="default-noexecute-toleration-does-not-count"),
    ],
)
def test_node_ready(ready: str | None, tolerations: list, reason: str | None) -> None:
    cache = cluster(node("n1", ready=ready))
    status = run_filter(NodeReady(None, Handle(cache)), pod("p", tolerations=tolerations), cache.node("n1"))
    assert (status.reasons[0] if status else None) == reason


TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    ("taints", "tolerations", "reason"),
    [
        pytest.param([TAINT], [], "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",
                     id="noschedule"),
        pytest.param([{"key": "dedicated", "value": "gpu", "effect": "NoExecute"}], [],
                     "node(s) had untolerated taint {dedicated: gpu}", id="noexecute-with-value"),
        pytest.param([TAINT], [{"key": TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}], None,
                     id="tolerated"),
        pytest.param([{"key": "soft", "effect": "PreferNoSchedule"}], [], None, id="prefer-no-schedule-only-scores"),
        pytest.param([TAINT, {"key": "b", "value": "2", "effect": "NoSchedule"}],
                     [{"key": TAINT["key"], "operator": "Exists"}], "node(s) had untolerated taint {b: 2}",
                     id="first-untolerated-named"),
    ],
)
def test_taint_toleration_filter(taints: list, tolerations: list, reason: str | None) -> None:
    cache = cluster(node("n1", taints=taints))
    status = run_filter(TaintToleration(None, Handle(cache)), pod("p", tolerations=tolerations), cache.node("n1"))
    assert (status.reasons[0] if status else None) == reason
    if status:
        assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_taint_toleration_scores_fewer_untolerated_prefer_no_schedule_higher() -> None:
    soft = {"effect": "PreferNoSchedule"}
    cache = cluster(node("clean"), node("one", taints=[{"key": "a", **soft}]),
                    node("two", taints=[{"key": "a", **soft}, {"key": "b", **soft}]))
    plugin = TaintToleration(None, Handle(cache))
    nodes = cache.node_list()
    p = info(pod("p", tolerations=[{"key": "b", "operator": "Exists", "effect": "PreferNoSchedule"}]))
    state = CycleState()
    assert plugin.pre_score(state, p, nodes) is None
    scores = [plugin.score(state, p, n) for n in nodes]
    assert scores == [0, 1, 1]
    plugin.normalize_score(state, p, scores, nodes)
    assert scores == [100, 0, 0]


def test_node_affinity_selector_and_required_terms() -> None:
    plugin = NodeAffinity()
    ssd = node("n1", labels={"disk": "ssd", "zone": "a"})
    hdd = node("n2", labels={"disk": "hdd"})
    by_selector = pod("p", nodeSelector={"disk": "ssd"})
    assert run_filter(plugin, by_selector, ssd) is None
    assert run_filter(plugin, by_selector, hdd).reasons == ("node(s) didn't match Pod's node affinity/selector",)
    required = pod("q", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}}})
    assert run_filter(plugin, required, ssd) is None
    assert run_filter(plugin, required, hdd) is not None
    both = pod("r", nodeSelector={"disk": "hdd"},
               affinity=required["spec"]["affinity"])
    assert run_filter(plugin, both, ssd) is not None and run_filter(plugin, both, hdd) is not None
    assert run_filter(plugin, pod("free"), hdd) is None


def test_node_affinity_preferred_terms_score_by_weight() -> None:
    nodes = [NodeInfo(node("a", labels={"disk": "ssd", "gpu": "yes"})), NodeInfo(node("b", labels={"disk": "ssd"})),
             NodeInfo(node("c"))]
    p = info(pod("p", affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
        {"weight": 30, "preference": {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}}]}}))
    plugin = NodeAffinity()
    state = CycleState()
    assert plugin.pre_score(state, p, nodes) is None
    scores = [plugin.score(state, p, n) for n in nodes]
    assert scores == [40, 10, 0]
    plugin.normalize_score(state, p, scores, nodes)
    assert scores == [100, 25, 0]
    assert plugin.pre_score(state, info(pod("plain")), nodes).code == Code.SKIP


def test_node_ports() -> None:
    web = pod("web", ports=[{"containerPort": 80, "hostPort": 8080}])
    n = NodeInfo(node("n1"))
    plugin = NodePorts()
    assert run_filter(plugin, web, n) is None
    n.add_pod(info(web).with_node("n1"))
    again = pod("again", ports=[{"containerPort": 80, "hostPort": 8080}])
    assert run_filter(plugin, again, n).reasons == ("node(s) didn't have free ports for the requested pod ports",)
    other_proto = pod("udp", ports=[{"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}])
    assert run_filter(plugin, other_proto, n) is None
    other_port = pod("other", ports=[{"containerPort": 80, "hostPort": 8081}])
    assert run_filter(plugin, other_port, n) is None
    assert run_filter(plugin, pod("none"), n) is None


def test_image_locality_prefers_nodes_with_the_image() -> None:
    big = [{"names": ["registry.k8s.io/big:1.0"], "sizeBytes": 500 * 2**20}]
    cache = cluster(node("has", images=big), node("lacks"))
    plugin = ImageLocality(None, Handle(cache))
    p = info(pod("p", image="registry.k8s.io/big:1.0"))
    nodes = cache.node_list()
    state = CycleState()
    assert plugin.pre_score(state, p, nodes) is None
    has, lacks = (plugin.score(state, p, n) for n in nodes)
    # 500MiB on half the nodes counts 250MiB: (250 - 23) / (1000 - 23) of 100.
    assert has == 100 * (250 * 2**20 - 23 * 2**20) // (977 * 2**20) and lacks == 0
    assert plugin.pre_score(state, info(pod("q", image="other")), nodes).code == Code.SKIP
