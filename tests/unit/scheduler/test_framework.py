"""The framework's vocabulary: requests (with kube-scheduler's non-zero defaults), tolerations, node selector
terms, affinity terms, NodeInfo accounting, and the FailedScheduling message format."""

from __future__ import annotations

import pytest

from kube.scheduling import pod_requests, tolerates
from scheduler.framework import (
    DEFAULT_MEMORY_BYTES,
    AffinityTerm,
    Code,
    FitError,
    NodeInfo,
    NodeSelectorMatcher,
    PodInfo,
    Status,
    failure_message,
    normalized_image_name,
)
from tests.unit.scheduler.factories import info, node, pod


def test_pod_requests_sum_containers_take_the_largest_init_container_and_add_overhead() -> None:
    p = pod("p", "100m", "1Mi")
    p["spec"]["containers"].append({"name": "d", "resources": {"requests": {"cpu": "200m", "example.com/gpu": "1"}}})
    p["spec"]["initContainers"] = [{"name": "i", "resources": {"requests": {"cpu": "1"}}}]
    p["spec"]["overhead"] = {"memory": "1Mi"}
    assert pod_requests(p["spec"]) == {"cpu": 1000, "memory": 2 * 2**20, "example.com/gpu": 1}


def test_non_zero_requests_default_per_container() -> None:
    p = pod("p", "250m")
    p["spec"]["containers"].append({"name": "d"})
    pi = info(p)
    assert (pi.non_zero_cpu, pi.non_zero_mem) == (250 + 100, 2 * DEFAULT_MEMORY_BYTES)
    assert pi.requests == {"cpu": 250}


@pytest.mark.parametrize(
    ("toleration", "taint", "expected"),
    [
        pytest.param({"key": "k", "operator": "Equal", "value": "v"},
                     {"key": "k", "value": "v", "effect": "NoSchedule"}, True, id="equal"),
        pytest.param({"key": "k", "value": "v"}, {"key": "k", "value": "w", "effect": "NoSchedule"}, False,
                     id="equal-is-default-and-value-differs"),
        pytest.param({"key": "k", "operator": "Exists"}, {"key": "k", "value": "x", "effect": "NoExecute"}, True,
                     id="exists-any-value-any-effect"),
        pytest.param({"operator": "Exists"}, {"key": "anything", "effect": "NoSchedule"}, True, id="exists-all"),
        pytest.param({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, {"key": "k", "effect": "NoExecute"},
                     False, id="effect-differs"),
        pytest.param({"key": "k", "operator": "Bogus"}, {"key": "k", "effect": "NoSchedule"}, False,
                     id="bad-operator-tolerates-nothing"),
    ],
)
def test_tolerates(toleration: dict, taint: dict, expected: bool) -> None:
    assert tolerates(toleration, taint) is expected


@pytest.mark.parametrize(
    ("terms", "labels", "name", "expected"),
    [
        pytest.param([{"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}],
                     {"disk": "ssd"}, "n", True, id="in"),
        pytest.param([{"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["ssd"]}]}],
                     {}, "n", True, id="notin-absent"),
        pytest.param([{"matchExpressions": [{"key": "disk", "operator": "Exists"}]}], {}, "n", False,
                     id="exists-absent"),
        pytest.param([{"matchExpressions": [{"key": "disk", "operator": "DoesNotExist"}]}], {}, "n", True,
                     id="does-not-exist"),
        pytest.param([{"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]}],
                     {"cores": "8"}, "n", True, id="gt"),
        pytest.param([{"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["4"]}]}],
                     {"cores": "eight"}, "n", False, id="lt-not-a-number"),
        pytest.param([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}],
                     {}, "n2", True, id="match-fields-name"),
        pytest.param([{"matchExpressions": [{"key": "a", "operator": "Exists"}]},
                      {"matchExpressions": [{"key": "b", "operator": "Exists"}]}], {"b": "1"}, "n", True,
                     id="terms-are-ored"),
        pytest.param([{"matchExpressions": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]}],
                     {"b": "1"}, "n", False, id="expressions-are-anded"),
        pytest.param([{}], {"a": "1"}, "n", False, id="empty-term-matches-nothing"),
        pytest.param([{"matchExpressions": [{"key": "a", "operator": "Near", "values": ["1"]}]}], {"a": "1"}, "n",
                     False, id="bad-operator-matches-nothing"),
    ],
)
def test_node_selector_terms(terms: list, labels: dict, name: str, expected: bool) -> None:
    assert NodeSelectorMatcher(terms).matches(labels, name) is expected


def test_affinity_term_namespaces() -> None:
    owner = pod("o", namespace="team-a")
    same_ns = AffinityTerm(owner, {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"})
    listed = AffinityTerm(owner, {"labelSelector": {"matchLabels": {"app": "db"}}, "namespaces": ["team-b"],
                                  "topologyKey": "zone"})
    by_selector = AffinityTerm(owner, {"labelSelector": {"matchLabels": {"app": "db"}},
                                       "namespaceSelector": {"matchLabels": {"env": "prod"}}, "topologyKey": "zone"})
    everywhere = AffinityTerm(owner, {"labelSelector": {"matchLabels": {"app": "db"}}, "namespaceSelector": {},
                                      "topologyKey": "zone"})
    nothing = AffinityTerm(owner, {"topologyKey": "zone"})
    db_b = info(pod("db", namespace="team-b", labels={"app": "db"}))
    db_a = info(pod("db", namespace="team-a", labels={"app": "db"}))
    ns_labels = {"team-b": {"env": "prod"}}.get
    assert same_ns.matches(db_a, ns_labels) and not same_ns.matches(db_b, ns_labels)
    assert listed.matches(db_b, ns_labels) and not listed.matches(db_a, ns_labels)
    assert by_selector.matches(db_b, lambda ns: ns_labels(ns) or {})
    assert not by_selector.matches(db_a, lambda ns: ns_labels(ns) or {})
    assert everywhere.matches(db_a, lambda ns: {}) and everywhere.matches(db_b, lambda ns: {})
    assert not nothing.matches(db_a, lambda ns: {})


def test_match_label_keys_fold_the_owners_value_into_the_selector() -> None:
    owner = pod("o", labels={"app": "web", "pod-template-hash": "abc"})
    term = AffinityTerm(owner, {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "zone",
                                "matchLabelKeys": ["pod-template-hash"]})
    assert term.matches(info(pod("x", labels={"app": "web", "pod-template-hash": "abc"})), lambda ns: {})
    assert not term.matches(info(pod("y", labels={"app": "web", "pod-template-hash": "old"})), lambda ns: {})


def test_node_info_accounts_requests_ports_and_affinity_pods() -> None:
    n = NodeInfo(node("n1"))
    p = pod("p", "500m", "1Gi", ports=[{"containerPort": 80, "hostPort": 8080}],
            affinity={"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"a": "b"}}, "topologyKey": "kubernetes.io/hostname"}]}})
    n.add_pod(info(p).with_node("n1"))
    assert (n.req_cpu, n.req_mem, len(n.pods)) == (500, 2**30, 1)
    assert n.port_conflict("0.0.0.0", "TCP", 8080) and n.port_conflict("10.0.0.1", "TCP", 8080)
    assert not n.port_conflict("0.0.0.0", "UDP", 8080)
    assert (n.affinity_pods, n.anti_affinity_pods) == (1, 1)
    n.remove_pod("default/p")
    assert (n.req_cpu, n.req_mem, n.affinity_pods, n.used_ports) == (0, 0, 0, {})


def test_node_info_reads_allocatable_and_the_ready_condition() -> None:
    assert NodeInfo(node(ready="True")).condition_taint is None
    assert NodeInfo(node(ready="False")).condition_taint == {"key": "node.kubernetes.io/not-ready",
                                                             "effect": "NoSchedule"}
    assert NodeInfo(node(ready="Unknown")).condition_taint["key"] == "node.kubernetes.io/unreachable"
    assert NodeInfo(node(ready=None)).condition_taint["key"] == "node.kubernetes.io/not-ready"
    n = NodeInfo(node(cpu="1500m", memory="1Gi", pods="3", **{"example.com/gpu": "2"}))
    assert (n.alloc_cpu, n.alloc_mem, n.allowed_pods, n.allocatable["example.com/gpu"]) == (1500, 2**30, 3, 2)


def test_image_names_are_normalised_like_kube_scheduler() -> None:
    assert normalized_image_name("nginx") == "nginx:latest"
    assert normalized_image_name("registry:5000/app") == "registry:5000/app:latest"
    assert normalized_image_name("nginx:1.25") == "nginx:1.25"
    assert normalized_image_name("nginx@sha256:abc") == "nginx@sha256:abc"


def test_failure_message_counts_reasons_sorted_as_strings() -> None:
    failures = {"a": Status.unschedulable("Insufficient cpu"),
                "b": Status.unresolvable("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"),
                "c": Status.unschedulable("Insufficient cpu"),
                "d": Status.unschedulable("Insufficient cpu", "Insufficient memory")}
    assert failure_message(4, failures) == (
        "0/4 nodes are available: 1 Insufficient memory, "
        "1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 3 Insufficient cpu.")


def test_fit_error_with_preemption_message_and_no_nodes() -> None:
    p = PodInfo(pod("p"))
    err = FitError(p, 3, {n: Status.unschedulable("Insufficient cpu") for n in "abc"},
                   post_filter_msg="preemption: 0/3 nodes are available: 3 No preemption victims found for "
                                   "incoming pod.")
    assert str(err) == ("0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
                        "3 No preemption victims found for incoming pod.")
    assert str(FitError(p, 0)) == "no nodes available to schedule pods"
    assert str(FitError(p, 2, pre_filter_msg="something")) == "0/2 nodes are available: something."


def test_status_codes() -> None:
    assert Status().ok and not Status.unschedulable("x").ok
    assert Status.unresolvable("x").code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert Status.unschedulable("a", "b").message == "a, b"


def test_a_bad_affinity_is_a_parse_error_not_a_crash() -> None:
    p = pod("p", affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
         "topologyKey": "zone"}]}})
    assert PodInfo(p).parse_error
    bad_quantity = pod("q", cpu="lots")
    assert PodInfo(bad_quantity).parse_error
