"""Deployment controller's pure parts (controllers.deploymentutil): the pod-template hash, maxSurge and
maxUnavailable arithmetic, new/old ReplicaSet sizing, proportional scaling, revisions and annotations,
history clean-up, and the status and conditions `kubectl rollout status` reads. Cases mirror Kubernetes'
own tests (deployment/util, rolling_test.go, sync_test.go) where there are some."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controllers import deploymentutil as du

Obj = dict[str, Any]

TEMPLATE: Obj = {"metadata": {"labels": {"app": "web"}},
                 "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}], "restartPolicy": "Always"}}


def deployment(replicas: int = 10, surge: int | str = 0, unavailable: int | str = 0, *, strategy: str = "RollingUpdate",
               generation: int = 1, status: Obj | None = None, **spec: Any) -> Obj:
    strat: Obj = {"type": strategy}
    if strategy == "RollingUpdate":
        strat["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "uid": "d-uid", "generation": generation},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "strategy": strat,
                     "template": copy.deepcopy(TEMPLATE), "revisionHistoryLimit": 10,
                     "progressDeadlineSeconds": 600, **spec},
            "status": status or {}}


def rs(name: str, replicas: int, available: int | None = None, *, created: str = "2026-01-01T00:00:00Z",
       revision: int | None = None, annotations: Obj | None = None, actual: int | None = None, **status: Any) -> Obj:
    notes = dict(annotations or {})
    if revision is not None:
        notes[du.REVISION] = str(revision)
    return {"metadata": {"name": name, "uid": f"{name}-uid", "creationTimestamp": created, "annotations": notes,
                         "generation": 1},
            "spec": {"replicas": replicas, "template": copy.deepcopy(TEMPLATE)},
            "status": {"replicas": replicas if actual is None else actual,
                       "availableReplicas": replicas if available is None else available,
                       "observedGeneration": 1, **status}}


# ---------------------------------------------------------------------------------------------- hashing


@pytest.mark.parametrize(("data", "expected"), [(b"", 0x811C9DC5), (b"a", 0xE40C292C), (b"foobar", 0xBF9CF968)],
                         ids=["empty", "a", "foobar"])
def test_fnv32a_matches_reference_vectors(data: bytes, expected: int) -> None:
    assert du.fnv32a(data) == expected


def test_safe_encode_maps_digits_to_unambiguous_alphanumerics() -> None:
    assert du.safe_encode("0123456789") == "456789bcdf"


def test_hash_is_short_stable_alphanumeric_and_ignores_key_order_and_empty_values() -> None:
    h = du.compute_hash(TEMPLATE)
    assert h == du.compute_hash(copy.deepcopy(TEMPLATE))
    assert 1 <= len(h) <= 10 and all(c in "bcdfghjklmnpqrstvwxz2456789" for c in h)
    reordered = {"spec": dict(reversed(list(TEMPLATE["spec"].items()))),
                 "metadata": {"labels": {"app": "web"}, "annotations": {}, "creationTimestamp": None}}
    assert du.compute_hash(reordered) == h


def test_hash_changes_with_template_and_collision_count() -> None:
    other = copy.deepcopy(TEMPLATE)
    other["spec"]["containers"][0]["image"] = "busybox:1.37"
    hashes = {du.compute_hash(TEMPLATE), du.compute_hash(other), du.compute_hash(TEMPLATE, 0),
              du.compute_hash(TEMPLATE, 1)}
    assert len(hashes) == 4


def test_equal_ignore_hash_ignores_only_the_hash_label() -> None:
    labelled = copy.deepcopy(TEMPLATE)
    labelled["metadata"]["labels"]["pod-template-hash"] = "abc"
    assert du.equal_ignore_hash(labelled, TEMPLATE)
    labelled["metadata"]["labels"]["tier"] = "front"
    assert not du.equal_ignore_hash(labelled, TEMPLATE)
    assert TEMPLATE["metadata"]["labels"] == {"app": "web"}  # inputs untouched


def test_new_rs_object_carries_hash_label_selector_owner_and_name() -> None:
    d = deployment(3, minReadySeconds=5)
    obj = du.new_rs_object(d, "5d8f", 0, {})
    assert obj["metadata"]["name"] == "web-5d8f"
    assert obj["metadata"]["labels"] == {"app": "web", "pod-template-hash": "5d8f"}
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "web", "pod-template-hash": "5d8f"}}
    assert obj["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == "5d8f"
    assert obj["spec"]["minReadySeconds"] == 5
    assert obj["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                                   "uid": "d-uid", "controller": True, "blockOwnerDeletion": True}]
    assert "pod-template-hash" not in d["spec"]["template"]["metadata"]["labels"]

# ---------------------------------------------------------------------------------------------- arithmetic


@pytest.mark.parametrize(("value", "total", "up", "expected"), [
    (2, 10, True, 2), ("25%", 3, True, 1), ("25%", 3, False, 0), ("25%", 10, True, 3), ("25%", 10, False, 2),
    ("50%", 5, True, 3), ("50%", 5, False, 2), ("100%", 7, False, 7), ("0%", 7, True, 0), (None, 5, True, 0),
], ids=["int", "pct-up-3", "pct-down-3", "pct-up-10", "pct-down-10", "half-up", "half-down", "all", "zero", "none"])
def test_scaled_value_rounds_surge_up_and_unavailable_down(value: Any, total: int, up: bool, expected: int) -> None:
    assert du.scaled_value(value, total, up) == expected


@pytest.mark.parametrize(("surge", "unavailable", "desired", "expected"), [
    ("25%", "25%", 4, (1, 1)), ("25%", "25%", 3, (1, 0)), (0, 0, 10, (0, 1)), ("0%", "10%", 5, (0, 1)),
    (3, "50%", 10, (3, 5)),
], ids=["defaults-4", "defaults-3", "both-zero", "rounded-to-zero", "mixed"])
def test_resolve_fenceposts(surge: Any, unavailable: Any, desired: int, expected: tuple[int, int]) -> None:
    assert du.resolve_fenceposts(surge, unavailable, desired) == expected


def test_max_unavailable_capped_and_zero_for_recreate_or_no_replicas() -> None:
    assert du.max_unavailable(deployment(2, 0, 5)) == 2
    assert du.max_unavailable(deployment(0, 1, 1)) == 0
    assert du.max_unavailable(deployment(3, strategy="Recreate")) == 0
    assert du.max_surge(deployment(3, strategy="Recreate")) == 0


@pytest.mark.parametrize(("replicas", "surge", "old", "new", "expected"), [
    (10, 0, 10, 0, 0), (10, 2, 10, 0, 2), (10, 2, 5, 0, 7), (10, 2, 10, 2, 2), (3, "25%", 0, 0, 3),
], ids=["no-surge", "surge-2", "old-half-gone", "at-max", "fresh"])
def test_new_rs_new_replicas(replicas: int, surge: Any, old: int, new: int, expected: int) -> None:
    """rolling_test.go TestDeploymentController_reconcileNewReplicaSet."""
    d = deployment(replicas, surge, 0)
    new_rs = rs("new", new, created="2026-01-02T00:00:00Z")
    assert du.new_rs_new_replicas(d, [rs("old", old), new_rs], new_rs) == expected


def test_new_rs_waits_for_old_pods_to_actually_go() -> None:
    """An old RS scaled down on paper whose status still shows its pods holds the surge budget."""
    d = deployment(4, 1, 0)
    new_rs = rs("new", 1)
    assert du.new_rs_new_replicas(d, [rs("old", 3, actual=4), new_rs], new_rs) == 1
    assert du.new_rs_new_replicas(d, [rs("old", 3), new_rs], new_rs) == 2


def test_recreate_new_rs_gets_everything() -> None:
    d = deployment(5, strategy="Recreate")
    assert du.new_rs_new_replicas(d, [rs("old", 5)], rs("new", 0)) == 5


@pytest.mark.parametrize(("unavailable", "old", "new", "old_ready", "new_ready", "expected"), [
    (0, 10, 0, 10, 0, {"old": 9}),
    (2, 10, 0, 10, 0, {"old": 8}),
    (2, 10, 0, 8, 0, {"old": 8}),
    (2, 10, 0, 9, 0, {"old": 8}),
    (2, 8, 2, 8, 0, {}),
    (2, 8, 2, 8, 2, {"old": 6}),
], ids=["min-unavailable-1", "two-at-a-time", "unhealthy-first", "unhealthy-then-ready", "new-not-ready",
        "new-ready"])
def test_plan_reconcile_old(unavailable: int, old: int, new: int, old_ready: int, new_ready: int,
                            expected: dict[str, int]) -> None:
    """rolling_test.go TestDeploymentController_reconcileOldReplicaSets."""
    d = deployment(10, 0, unavailable)
    old_rs, new_rs = rs("old", old, old_ready), rs("new", new, new_ready, created="2026-01-02T00:00:00Z")
    assert du.plan_reconcile_old(d, [old_rs, new_rs], [old_rs], new_rs) == expected


def test_plan_reconcile_old_never_trusts_a_stale_available_count() -> None:
    """Status written before the last scale-down still counts 3 available pods; only 2 remain."""
    d = deployment(3, 1, 0)
    old_rs, new_rs = rs("old", 2, 3, actual=3), rs("new", 2, 2, created="2026-01-02T00:00:00Z")
    assert du.plan_reconcile_old(d, [old_rs, new_rs], [old_rs], new_rs) == {"old": 1}


def test_plan_reconcile_old_scales_oldest_first() -> None:
    d = deployment(4, 0, 2)
    older = rs("older", 2, created="2026-01-01T00:00:00Z")
    newer = rs("newer", 2, created="2026-01-02T00:00:00Z")
    new_rs = rs("new", 0, created="2026-01-03T00:00:00Z")
    assert du.plan_reconcile_old(d, [newer, older, new_rs], [newer, older], new_rs) == {"older": 0}

# ---------------------------------------------------------------------------------------------- scaling


def annotated(name: str, size: int, created: str, before: int) -> Obj:
    return rs(name, size, created=created, annotations={du.DESIRED_REPLICAS: str(before), du.MAX_REPLICAS: str(before)})


OLDER, OLD, NEW = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"


@pytest.mark.parametrize(("before", "after", "new", "olds", "expected"), [
    (5, 10, ("v2", 2), [("v1", 3, OLD)], {"v2": 4, "v1": 6}),
    (5, 3, ("v2", 2), [("v1", 3, OLD)], {"v2": 1, "v1": 2}),
    (9, 4, ("v2", 8), [("v1", 1, OLD)], {"v2": 4, "v1": 0}),
    (7, 10, ("v3", 2), [("v2", 3, OLD), ("v1", 2, OLDER)], {"v3": 3, "v2": 4, "v1": 3}),
    (13, 8, ("v3", 2), [("v2", 8, OLD), ("v1", 3, OLDER)], {"v3": 1, "v2": 5, "v1": 2}),
], ids=["5-to-10", "5-to-3", "9-to-4", "7-to-10", "13-to-8"])
def test_plan_proportional(before: int, after: int, new: tuple[str, int], olds: list[tuple[str, int, str]],
                           expected: dict[str, int]) -> None:
    """sync_test.go TestScale: a replicas change mid-rollout spread over every active ReplicaSet."""
    d = deployment(after, 0, 0)
    new_rs = annotated(new[0], new[1], NEW, before)
    old_rss = [annotated(name, size, created, before) for name, size, created in olds]
    sizes, operation = du.plan_proportional(d, new_rs, old_rss)
    assert sizes == expected
    assert operation == ("up" if after > before else "down")


def test_find_active_or_latest() -> None:
    new_rs, old_rs = rs("new", 0, created=NEW), rs("old", 0, created=OLD)
    assert du.find_active_or_latest(new_rs, [old_rs]) is new_rs
    assert du.find_active_or_latest(None, [old_rs, rs("older", 0, created=OLDER)]) is old_rs
    active = rs("old", 3, created=OLD)
    assert du.find_active_or_latest(new_rs, [active]) is active
    assert du.find_active_or_latest(rs("new", 1, created=NEW), [active]) is None


def test_is_saturated() -> None:
    d = deployment(3)
    assert du.is_saturated(d, rs("new", 3, annotations={du.DESIRED_REPLICAS: "3"}))
    assert not du.is_saturated(d, rs("new", 3, 2, annotations={du.DESIRED_REPLICAS: "3"}))
    assert not du.is_saturated(d, rs("new", 3, annotations={du.DESIRED_REPLICAS: "2"}))
    assert not du.is_saturated(d, None)

# ---------------------------------------------------------------------------------------------- revisions


def test_find_new_and_old_by_template() -> None:
    d = deployment(3)
    changed = rs("a", 3, created=OLDER)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:1.35"
    matching = rs("b", 0, created=OLD)
    matching["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] = "b"
    assert du.find_new(d, [changed, matching]) is matching
    assert du.find_old(d, [changed, matching]) == [changed]
    assert du.find_new(d, [changed]) is None


def test_new_rs_annotations_on_create() -> None:
    d = deployment(4, 1, 0)
    d["metadata"]["annotations"] = {du.CHANGE_CAUSE: "kubectl set image", du.REVISION: "7",
                                    "kubectl.kubernetes.io/last-applied-configuration": "{}"}
    new_rs = rs("new", 0)
    assert du.set_new_rs_annotations(d, new_rs, 3, exists=False)
    assert new_rs["metadata"]["annotations"] == {du.CHANGE_CAUSE: "kubectl set image", du.REVISION: "3",
                                                 du.DESIRED_REPLICAS: "4", du.MAX_REPLICAS: "5"}


def test_rollback_gives_old_rs_the_next_revision_and_keeps_history() -> None:
    d = deployment(3)
    old_rs = rs("old", 0, revision=1)
    assert du.set_new_rs_annotations(d, old_rs, 3, exists=True)
    assert old_rs["metadata"]["annotations"][du.REVISION] == "3"
    assert old_rs["metadata"]["annotations"][du.REVISION_HISTORY] == "1"
    assert du.set_new_rs_annotations(d, old_rs, 5, exists=True)
    assert old_rs["metadata"]["annotations"][du.REVISION_HISTORY] == "1,3"
    assert not du.set_new_rs_annotations(d, old_rs, 4, exists=True)  # never lowered


def test_max_revision_ignores_unparsable() -> None:
    assert du.max_revision([rs("a", 0, revision=2), rs("b", 0, revision=7),
                            rs("c", 0, annotations={du.REVISION: "x"}), rs("d", 0)]) == 7
    assert du.max_revision([]) == 0


def test_cleanup_victims_oldest_revisions_beyond_limit_and_only_settled_empty_ones() -> None:
    d = deployment(3, revisionHistoryLimit=2)
    old = [rs("r1", 0, revision=1), rs("r2", 0, revision=2), rs("r3", 1, revision=3), rs("r4", 0, revision=4),
           rs("r5", 0, revision=5)]
    assert [v["metadata"]["name"] for v in du.cleanup_victims(d, old)] == ["r1", "r2"]
    old[0]["status"]["replicas"] = 1  # pods still there
    old[1]["metadata"]["generation"] = 2  # scale-down not yet observed
    assert du.cleanup_victims(d, old) == []
    assert du.cleanup_victims(deployment(3, revisionHistoryLimit=10), old) == []

# ---------------------------------------------------------------------------------------------- conditions


def test_set_condition_keeps_transition_time_and_skips_no_change() -> None:
    status: Obj = {}
    du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_CREATED, "m", "2026-01-01T00:00:00Z"))
    du.set_condition(status, du.new_condition(du.AVAILABLE, "False", du.MIN_UNAVAILABLE, "m", "2026-01-01T00:00:00Z"))
    du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_CREATED, "x", "2026-01-02T00:00:00Z"))
    assert status["conditions"][0]["message"] == "m"  # same status and reason: untouched
    du.set_condition(status, du.new_condition(du.PROGRESSING, "True", du.NEW_RS_AVAILABLE, "y", "2026-01-03T00:00:00Z"))
    progressing = status["conditions"][-1]
    assert [c["type"] for c in status["conditions"]] == [du.AVAILABLE, du.PROGRESSING]  # moved to the end
    assert progressing["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert progressing["lastUpdateTime"] == "2026-01-03T00:00:00Z"


def test_calculate_status_omits_zeros_and_sets_available() -> None:
    d = deployment(3, 1, 1, generation=4)
    new_rs = rs("new", 3, 0, readyReplicas=0)
    status = du.calculate_status([rs("old", 0, 0), new_rs], new_rs, d, "2026-01-01T00:00:00Z")
    assert {k: v for k, v in status.items() if k != "conditions"} == {
        "observedGeneration": 4, "replicas": 3, "updatedReplicas": 3, "unavailableReplicas": 3}
    assert status["conditions"] == [{"type": "Available", "status": "False", "lastUpdateTime": "2026-01-01T00:00:00Z",
                                     "lastTransitionTime": "2026-01-01T00:00:00Z",
                                     "reason": "MinimumReplicasUnavailable",
                                     "message": "Deployment does not have minimum availability."}]
    ready = rs("new", 3, 2, readyReplicas=2)
    status = du.calculate_status([ready], ready, d)
    assert status["availableReplicas"] == 2 and status["readyReplicas"] == 2 and status["unavailableReplicas"] == 1
    assert du.get_condition(status, du.AVAILABLE)["reason"] == "MinimumReplicasAvailable"


def progressing_status(reason: str, status: str, updated: str, **counts: int) -> Obj:
    return {"observedGeneration": 1, **counts,
            "conditions": [{"type": "Progressing", "status": status, "lastUpdateTime": updated,
                            "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": reason, "message": "m"}]}


def test_rollout_status_complete_message() -> None:
    d = deployment(2, 1, 0, status=progressing_status(du.RS_UPDATED, "True", "2026-01-01T00:00:00Z",
                                                       replicas=2, updatedReplicas=2, availableReplicas=1))
    new_rs = rs("web-5d8f", 2, 2, readyReplicas=2)
    status = du.rollout_status(d, [new_rs], new_rs, "2026-01-01T00:00:05Z")
    progressing = du.get_condition(status, du.PROGRESSING)
    assert progressing["reason"] == "NewReplicaSetAvailable" and progressing["status"] == "True"
    assert progressing["message"] == 'ReplicaSet "web-5d8f" has successfully progressed.'
    assert progressing["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert du.progress_check_after(d, status) is None


def test_rollout_status_progress_bumps_only_update_time() -> None:
    d = deployment(4, 1, 0, status=progressing_status(du.RS_UPDATED, "True", "2026-01-01T00:00:00Z",
                                                       replicas=5, updatedReplicas=1))
    new_rs = rs("web-new", 2, 0, created=NEW)
    status = du.rollout_status(d, [rs("web-old", 4), new_rs], new_rs, "2026-01-01T00:01:00Z")
    progressing = du.get_condition(status, du.PROGRESSING)
    assert progressing["message"] == 'ReplicaSet "web-new" is progressing.'
    assert progressing["lastUpdateTime"] == "2026-01-01T00:01:00Z"
    assert progressing["lastTransitionTime"] == "2026-01-01T00:00:00Z"


def test_rollout_status_times_out_after_deadline_without_progress() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    d = deployment(2, 1, 0, progressDeadlineSeconds=30,
                   status=progressing_status(du.NEW_RS_CREATED, "True", "2026-01-01T00:00:00Z",
                                             replicas=2, updatedReplicas=2, unavailableReplicas=2))
    new_rs = rs("web-new", 2, 0)
    early = du.rollout_status(d, [new_rs], new_rs, clock=start + timedelta(seconds=10))
    assert du.get_condition(early, du.PROGRESSING)["reason"] == du.NEW_RS_CREATED
    assert du.progress_check_after(d, early, start + timedelta(seconds=10)) == pytest.approx(21.0)
    late = du.rollout_status(d, [new_rs], new_rs, "2026-01-01T00:00:31Z", clock=start + timedelta(seconds=31))
    progressing = du.get_condition(late, du.PROGRESSING)
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert progressing["message"] == 'ReplicaSet "web-new" has timed out progressing.'


def test_rollout_status_without_deadline_has_no_progressing() -> None:
    d = deployment(1, 1, 0, status=progressing_status(du.RS_UPDATED, "True", "2026-01-01T00:00:00Z"))
    d["spec"]["progressDeadlineSeconds"] = du.MAX_INT32
    new_rs = rs("web-new", 1)
    assert du.get_condition(du.rollout_status(d, [new_rs], new_rs), du.PROGRESSING) is None


def test_rollout_status_carries_replica_failure_of_new_rs() -> None:
    d = deployment(1, 1, 0)
    failure = {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": "quota",
               "lastTransitionTime": "2026-01-01T00:00:00Z"}
    new_rs = rs("web-new", 1, 0, conditions=[failure])
    status = du.rollout_status(d, [new_rs], new_rs)
    assert du.get_condition(status, "ReplicaFailure")["message"] == "quota"
    healthy = rs("web-new", 1)
    d["status"] = status
    assert du.get_condition(du.rollout_status(d, [healthy], healthy), "ReplicaFailure") is None


def test_deployment_complete_needs_observed_generation() -> None:
    d = deployment(2, generation=3)
    done = {"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
    assert du.deployment_complete(d, done)
    assert not du.deployment_complete(d, {**done, "observedGeneration": 2})
    assert not du.deployment_complete(d, {**done, "replicas": 3})
