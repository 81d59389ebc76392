"""DefaultPreemption: eligibility, the minimal victim set on a node, the choice between candidate nodes, and
kube-scheduler's messages when preemption cannot help."""

from __future__ import annotations

import pytest

from scheduler.framework import FitError, PodInfo
from scheduler.preemption import Candidate, pick_one
from scheduler.queue import Nominator
from tests.unit.scheduler.factories import cluster, info, node, pod, profile


def attempt(prof, p: dict):
    pi = info(p)
    with pytest.raises(FitError) as err:
        prof.schedule(pi)
    return prof.post_filter.find(err.value.state, pi, err.value), err.value


def test_no_lower_priority_pods_means_no_victims() -> None:
    cache = cluster(node("n1", cpu="1"), node("n2", cpu="1"),
                    pods=[pod("a", "900m", node_name="n1"), pod("b", "900m", node_name="n2")])
    (candidate, message), fit = attempt(profile(cache), pod("p", "500m"))
    assert candidate is None
    assert message == "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
    fit.post_filter_msg = message
    assert str(fit) == ("0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: "
                        "2 No preemption victims found for incoming pod.")


def test_unresolvable_nodes_are_not_helped() -> None:
    cache = cluster(node("tainted", taints=[{"key": "k", "effect": "NoSchedule"}]), node("full", cpu="1"),
                    pods=[pod("low", "900m", node_name="full", priority=0)])
    (candidate, message), _ = attempt(profile(cache), pod("p", "500m", priority=10))
    assert candidate == Candidate("full", [cache.pod("default/low")])
    (candidate, message), _ = attempt(profile(cache), pod("q", "5", priority=10))
    assert candidate is None
    assert message == ("preemption: 0/2 nodes are available: 1 Insufficient cpu, "
                       "1 Preemption is not helpful for scheduling.")


def test_victims_are_the_fewest_lowest_priority_pods_needed() -> None:
    cache = cluster(node("n1", cpu="2"), pods=[
        pod("keep-high", "500m", node_name="n1", priority=50),
        pod("small-low", "500m", node_name="n1", priority=1),
        pod("big-low", "1", node_name="n1", priority=2)])
    (candidate, _), _ = attempt(profile(cache), pod("p", "1", priority=100))
    # All three are below 100 and may go. Put back most important first: keep-high fits, big-low would leave
    # only 500m, so it stays out; small-low fits again. One victim.
    assert [v.name for v in candidate.victims] == ["big-low"]


def test_preemption_policy_never() -> None:
    cache = cluster(node("n1", cpu="1"), pods=[pod("low", "900m", node_name="n1", priority=0)])
    (candidate, message), _ = attempt(profile(cache), pod("p", "500m", priority=10, preemptionPolicy="Never"))
    assert candidate is None and message == "preemption: not eligible due to preemptionPolicy=Never."


def test_not_eligible_while_victims_terminate_on_the_nominated_node() -> None:
    going = pod("low", "900m", node_name="n1", priority=0)
    going["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    cache = cluster(node("n1", cpu="1"), pods=[going])
    p = pod("p", "500m", priority=10)
    p["status"]["nominatedNodeName"] = "n1"
    (candidate, message), _ = attempt(profile(cache), p)
    assert candidate is None
    assert message == "preemption: not eligible due to a terminating pod on the nominated node."


def test_pick_one_prefers_lower_priority_victims_then_fewer() -> None:
    def victims(*priorities: int) -> list[PodInfo]:
        return [PodInfo(pod(f"v{i}-{p}"), p) for i, p in enumerate(priorities)]

    a = Candidate("a", victims(5))
    b = Candidate("b", victims(1, 1))
    c = Candidate("c", victims(1))
    assert pick_one([a, b, c]).node == "c"
    assert pick_one([a, b]).node == "b"


def test_nominated_pods_keep_their_room() -> None:
    cache = cluster(node("n1", cpu="1"), node("n2", cpu="1"))
    nominator = Nominator()
    prof = profile(cache, nominator=nominator)
    nominator.add(info(pod("waiting", "800m", priority=100)), "n1")
    assert prof.schedule(info(pod("low", "500m", priority=0))).node == "n2"
    # A pod of higher priority than the nominated one ignores the nomination.
    prof.next_start = 0
    assert prof.schedule(info(pod("higher", "500m", priority=1000))).node in ("n1", "n2")


def test_a_nominated_pod_goes_to_its_node_first() -> None:
    cache = cluster(node("n1", cpu="4"), node("n2", cpu="4"))
    prof = profile(cache)
    p = pod("p", "100m")
    p["status"]["nominatedNodeName"] = "n2"
    result = prof.schedule(info(p))
    assert (result.node, result.evaluated) == ("n2", 1)
