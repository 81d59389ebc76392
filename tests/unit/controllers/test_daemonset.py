"""DaemonSet logic without an apiserver: node eligibility (selectors, affinity, taints against the automatic
tolerations), per-node planning, rolling updates with maxUnavailable and maxSurge, status counts, and
ControllerRevision hashing and history."""

from __future__ import annotations

from typing import Any

import pytest

from controllers import daemonset, revisions
from kube import scheduling

Obj = dict[str, Any]
READY_SINCE = "2020-01-01T00:00:00Z"


def node(name: str, labels: dict[str, str] | None = None, taints: list[Obj] | None = None, cpu: str = "2") -> Obj:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": {"taints": taints or []},
            "status": {"allocatable": {"cpu": cpu, "memory": "4Gi", "pods": "110"}}}


def make_ds(pod_spec: Obj | None = None, strategy: Obj | None = None, min_ready: int = 0) -> Obj:
    spec: Obj = {"selector": {"matchLabels": {"app": "d"}},
                 "template": {"metadata": {"labels": {"app": "d"}},
                              "spec": {"containers": [{"name": "c", "image": "i"}], **(pod_spec or {})}},
                 "updateStrategy": strategy or {"type": "RollingUpdate",
                                                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}}
    if min_ready:
        spec["minReadySeconds"] = min_ready
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "d", "namespace": "ns", "uid": "ds-uid", "generation": 1}, "spec": spec}


def pod(name: str, node_name: str, hash_: str = "new", ready: bool = True, phase: str = "Running",
        created: str = "2024-01-01T00:00:00Z", deleting: bool = False) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "creationTimestamp": created,
                 "labels": {"app": "d", revisions.HASH_LABEL: hash_}}
    if deleting:
        meta["deletionTimestamp"] = "2024-01-02T00:00:00Z"
    conditions = [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": READY_SINCE}]
    return {"metadata": meta, "spec": {"nodeName": node_name}, "status": {"phase": phase, "conditions": conditions}}


def names(pods: list[Obj]) -> list[str]:
    return sorted(p["metadata"]["name"] for p in pods)


# ---------------------------------------------------------------------- eligibility


NO_SCHEDULE = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
NO_EXECUTE = {"key": "dedicated", "value": "gpu", "effect": "NoExecute"}
REQUIRED_ZONE_A = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}


@pytest.mark.parametrize(("pod_spec", "the_node", "expected"), [
    ({}, node("n"), (True, True)),
    ({"nodeSelector": {"disk": "ssd"}}, node("n", {"disk": "ssd"}), (True, True)),
    ({"nodeSelector": {"disk": "ssd"}}, node("n", {"disk": "hdd"}), (False, False)),
    ({"affinity": REQUIRED_ZONE_A}, node("n", {"zone": "a"}), (True, True)),
    ({"affinity": REQUIRED_ZONE_A}, node("n", {"zone": "b"}), (False, False)),
    ({"nodeName": "other"}, node("n"), (False, False)),
    ({}, node("n", taints=[NO_SCHEDULE]), (False, True)),
    ({}, node("n", taints=[NO_EXECUTE]), (False, False)),
    ({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu"}]},
     node("n", taints=[NO_SCHEDULE, NO_EXECUTE]), (True, True)),
    ({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "cpu"}]},
     node("n", taints=[NO_SCHEDULE]), (False, True)),
    ({"tolerations": [{"operator": "Exists"}]}, node("n", taints=[NO_EXECUTE]), (True, True)),
    ({}, node("n", taints=[{"key": "dedicated", "effect": "PreferNoSchedule"}]), (True, True)),
    ({}, node("n", taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]), (True, True)),
    ({}, node("n", taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]), (True, True)),
    ({}, node("n", taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]),
     (False, True)),
    ({"hostNetwork": True},
     node("n", taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]), (True, True)),
], ids=["plain", "selector-match", "selector-mismatch", "affinity-match", "affinity-mismatch", "other-nodename",
        "noschedule-taint-keeps-running", "noexecute-taint-evicts", "tolerated", "wrong-value",
        "exists-tolerates-all", "prefer-no-schedule-ignored", "auto-unschedulable", "auto-not-ready",
        "network-unavailable-needs-hostnetwork", "hostnetwork-tolerates-network-unavailable"])
def test_should_run(pod_spec: Obj, the_node: Obj, expected: tuple[bool, bool]) -> None:
    assert daemonset.should_run(make_ds(pod_spec), the_node) == expected


def test_automatic_tolerations_are_added_once() -> None:
    own = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
           "tolerationSeconds": 10}
    spec = daemonset.add_daemon_tolerations({"tolerations": [own]})
    keys = [(t["key"], t["effect"]) for t in spec["tolerations"]]
    assert len(keys) == len(set(keys)) == 6
    assert spec["tolerations"][0]["tolerationSeconds"] == 10  # the user's own kept as written
    assert ("node.kubernetes.io/network-unavailable", "NoSchedule") in [
        (t["key"], t["effect"]) for t in daemonset.add_daemon_tolerations({"hostNetwork": True})["tolerations"]]


def test_match_fields_on_metadata_name() -> None:
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}
    assert scheduling.term_matches(term, node("n1"))
    assert not scheduling.term_matches(term, node("n2"))
    assert not scheduling.term_matches({}, node("n1"))  # an empty term matches nothing
    assert daemonset.target_node({"spec": {"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}}}) == "n1"


def test_resource_fit_counts_other_pods() -> None:
    heavy = {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1500m"}}}]}
    on_node = [{"spec": heavy, "status": {"phase": "Running"}}]
    assert scheduling.fits_resources(heavy, node("n", cpu="2"), on_node) == ["Insufficient cpu"]
    assert scheduling.fits_resources(heavy, node("n", cpu="4"), on_node) == []
    finished = [{"spec": heavy, "status": {"phase": "Succeeded"}}]
    assert scheduling.fits_resources(heavy, node("n", cpu="2"), finished) == []


# ---------------------------------------------------------------------- manage


def test_plan_creates_where_missing_and_deletes_where_not_eligible() -> None:
    d = make_ds({"nodeSelector": {"role": "edge"}})
    nodes = [node("a", {"role": "edge"}), node("b", {"role": "edge"}), node("c", {"role": "core"})]
    by_node = {"a": [pod("pa", "a")], "c": [pod("pc", "c")]}
    plan = daemonset.plan_nodes(d, nodes, by_node, "new")
    assert plan.create == ["b"]
    assert names(plan.delete) == ["pc"]


def test_plan_keeps_the_oldest_of_duplicates_and_waits_for_terminating_pods() -> None:
    d = make_ds()
    nodes = [node("a"), node("b")]
    by_node = {"a": [pod("young", "a", created="2024-02-01T00:00:00Z"), pod("old", "a")],
               "b": [pod("going", "b", deleting=True)]}
    plan = daemonset.plan_nodes(d, nodes, by_node, "new")
    assert names(plan.delete) == ["young"]
    assert plan.create == []  # node b gets its pod once the terminating one is gone


def test_plan_hands_failed_pods_over_and_deletes_succeeded_ones() -> None:
    plan = daemonset.plan_nodes(make_ds(), [node("a"), node("b")],
                      {"a": [pod("f", "a", phase="Failed")], "b": [pod("s", "b", phase="Succeeded")]}, "new")
    assert names(plan.failed) == ["f"] and names(plan.delete) == ["s"]


def test_plan_with_surge_keeps_old_until_new_is_available() -> None:
    d = make_ds(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}})
    waiting = {"a": [pod("old", "a", hash_="old"), pod("new", "a", ready=False)]}
    assert daemonset.plan_nodes(d, [node("a")], waiting, "new").empty()
    done = {"a": [pod("old", "a", hash_="old"), pod("new", "a")]}
    assert names(daemonset.plan_nodes(d, [node("a")], done, "new").delete) == ["old"]


# ---------------------------------------------------------------------- rolling update


def test_rolling_update_respects_max_unavailable() -> None:
    nodes = [node(n) for n in "abcd"]
    by_node = {n: [pod(f"p{n}", n, hash_="old")] for n in "abcd"}
    delete, create = daemonset.plan_rolling_update(make_ds(), nodes, by_node, "new")
    assert len(delete) == 1 and create == []
    # One node already mid-update (its new pod not yet available): nothing more this round.
    by_node["a"] = [pod("pa2", "a", ready=False)]
    assert daemonset.plan_rolling_update(make_ds(), nodes, by_node, "new") == ([], [])
    # Percentages round up: 50% of 4 nodes is 2.
    d = make_ds(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "50%", "maxSurge": 0}})
    by_node["a"] = [pod("pa", "a", hash_="old")]
    assert len(daemonset.plan_rolling_update(d, nodes, by_node, "new")[0]) == 2


def test_rolling_update_replaces_unavailable_old_pods_at_once() -> None:
    nodes = [node(n) for n in "abc"]
    by_node = {n: [pod(f"p{n}", n, hash_="old", ready=False)] for n in "abc"}
    delete, _ = daemonset.plan_rolling_update(make_ds(), nodes, by_node, "new")
    assert names(delete) == ["pa", "pb", "pc"]


def test_rolling_update_with_surge_creates_first() -> None:
    d = make_ds(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}})
    nodes = [node(n) for n in "ab"]
    by_node = {n: [pod(f"p{n}", n, hash_="old")] for n in "ab"}
    assert daemonset.plan_rolling_update(d, nodes, by_node, "new") == ([], ["a"])
    by_node["a"].append(pod("pa2", "a"))
    delete, create = daemonset.plan_rolling_update(d, nodes, by_node, "new")
    assert names(delete) == ["pa"] and create == ["b"]


def test_scaled_values() -> None:
    assert daemonset.scaled_value("25%", 10, 1) == 3
    assert daemonset.scaled_value(None, 10, 1) == 1
    assert daemonset.scaled_value(2, 10, 1) == 2
    assert daemonset.surge_and_unavailable(make_ds(strategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}), 3) == (0, 1)


# ---------------------------------------------------------------------- status


def test_status_counts() -> None:
    d = make_ds({"nodeSelector": {"role": "edge"}}, min_ready=10**9)
    nodes = [node("a", {"role": "edge"}), node("b", {"role": "edge"}), node("c", {"role": "edge"}),
             node("x", {"role": "core"})]
    by_node = {"a": [pod("pa", "a")], "b": [pod("pb", "b", hash_="old", ready=False)], "x": [pod("px", "x")]}
    status = daemonset.compute_status(d, nodes, by_node, "new")
    assert status == {"desiredNumberScheduled": 3, "currentNumberScheduled": 2, "numberMisscheduled": 1,
                      "numberReady": 1, "updatedNumberScheduled": 1, "numberUnavailable": 3}


# ---------------------------------------------------------------------- revisions


def test_hash_is_stable_safe_and_moved_by_collisions() -> None:
    data = revisions.template_data({"spec": {"containers": [{"name": "c", "image": "a"}]}})
    same = revisions.template_data({"spec": {"containers": [{"image": "a", "name": "c"}]}})
    assert revisions.compute_hash(data) == revisions.compute_hash(same)
    assert revisions.compute_hash(data) != revisions.compute_hash(data, 1)
    assert set(revisions.compute_hash(data)) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert revisions.template_of({"data": data}) == {"spec": {"containers": [{"name": "c", "image": "a"}]}}
    assert data["spec"]["template"]["$patch"] == "replace"


def test_history_truncation_keeps_live_and_newest() -> None:
    revs = [{"metadata": {"name": f"r{i}"}, "revision": i} for i in range(1, 6)]
    doomed = revisions.to_truncate(revs, live={"r1", "r5"}, limit=1)
    assert [r["metadata"]["name"] for r in doomed] == ["r2", "r3"]
    assert revisions.next_number(revs) == 6
    assert revisions.to_truncate(revs, live=set(), limit=10) == []
