"""StatefulSet logic without an apiserver: identity (names, labels, hostname, claims mounted in place of
template volumes), ordinal planning for OrderedReady and Parallel (creation, scale-down, failed pods,
rolling updates with a partition, OnDelete), status counts, and claim ownership under the retention policy."""

from __future__ import annotations

from typing import Any

import pytest

from controllers import revisions, statefulset
from controllers.statefulset import POD_INDEX_LABEL, POD_NAME_LABEL

Obj = dict[str, Any]


def sts(replicas: int = 3, policy: str = "OrderedReady", partition: int = 0, strategy: str = "RollingUpdate",
        retention: Obj | None = None, start: int | None = None) -> Obj:
    spec: Obj = {
        "replicas": replicas, "serviceName": "web-svc", "podManagementPolicy": policy,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "c", "image": "i"}],
                              "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "emptyDir": {}}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": {"tier": "db"}},
                                  "spec": {"accessModes": ["ReadWriteOnce"],
                                           "resources": {"requests": {"storage": "1Gi"}}}}],
        "updateStrategy": {"type": strategy, **({"rollingUpdate": {"partition": partition}}
                                                if strategy == "RollingUpdate" else {})},
        "persistentVolumeClaimRetentionPolicy": retention or {"whenDeleted": "Retain", "whenScaled": "Retain"},
    }
    if start is not None:
        spec["ordinals"] = {"start": start}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": "ns", "uid": "set-uid", "generation": 2}, "spec": spec}


def pod(ordinal: int, revision: str = "web-new", phase: str = "Running", ready: bool = True,
        deleting: bool = False) -> Obj:
    name = f"web-{ordinal}"
    meta: Obj = {"name": name, "namespace": "ns", "uid": f"uid-{name}",
                 "labels": {"app": "web", POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal),
                            revisions.HASH_LABEL: revision}}
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {"metadata": meta, "spec": {},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def steps(actions: list) -> list[tuple]:
    return [(a.kind, a.ordinal, a.revision or a.reason) for a in actions]


# ---------------------------------------------------------------------- identity


def test_ordinals_from_names() -> None:
    assert statefulset.parent_and_ordinal("web-12") == ("web", 12)
    assert statefulset.parent_and_ordinal("my-db-0") == ("my-db", 0)
    assert statefulset.parent_and_ordinal("web") == ("", -1)


def test_new_pod_has_stable_identity_and_its_claims_mounted() -> None:
    s = sts()
    p = statefulset.new_pod(s, s["spec"]["template"], "web-abc", 1)
    assert p["metadata"]["name"] == "web-1"
    assert p["metadata"]["labels"] == {"app": "web", POD_NAME_LABEL: "web-1", POD_INDEX_LABEL: "1",
                                       revisions.HASH_LABEL: "web-abc"}
    assert p["spec"]["hostname"] == "web-1" and p["spec"]["subdomain"] == "web-svc"
    assert p["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-1"}},
                                    {"name": "cfg", "emptyDir": {}}]
    ref = p["metadata"]["ownerReferences"][0]
    assert ref["kind"] == "StatefulSet" and ref["controller"] is True


def test_claims_carry_the_selector_labels() -> None:
    claim = statefulset.new_claims(sts(), 2)["data"]
    assert claim["metadata"]["name"] == "data-web-2"
    assert claim["metadata"]["labels"] == {"tier": "db", "app": "web"}
    assert claim["spec"]["resources"] == {"requests": {"storage": "1Gi"}}


# ---------------------------------------------------------------------- ordered creation and removal


def test_ordered_ready_creates_one_at_a_time() -> None:
    assert steps(statefulset.plan(sts(), [], "web-old", "web-new")) == [("create", 0, "web-new")]
    pending = pod(0, phase="Pending", ready=False)
    assert steps(statefulset.plan(sts(), [pending], "web-new", "web-new")) == [("claims", 0, "")]
    not_ready = pod(0, ready=False)
    assert statefulset.plan(sts(), [not_ready], "web-new", "web-new") == []
    assert steps(statefulset.plan(sts(), [pod(0)], "web-new", "web-new")) == [("create", 1, "web-new")]
    assert steps(statefulset.plan(sts(), [pod(0), pod(1)], "web-new", "web-new")) == [("create", 2, "web-new")]
    assert statefulset.plan(sts(), [pod(0), pod(1), pod(2)], "web-new", "web-new") == []


def test_ordinals_can_start_elsewhere() -> None:
    assert steps(statefulset.plan(sts(start=5), [], "r", "r")) == [("create", 5, "r")]


def test_parallel_creates_everything_at_once() -> None:
    assert steps(statefulset.plan(sts(policy="Parallel"), [pod(1, ready=False)], "r", "web-new")) == [
        ("create", 0, "web-new"), ("create", 2, "web-new")]


def test_scale_down_removes_the_highest_first_and_waits_for_it() -> None:
    pods = [pod(i) for i in range(4)]
    assert steps(statefulset.plan(sts(replicas=1), pods, "web-new", "web-new")) == [("delete", 3, "scale-down")]
    pods[3] = pod(3, deleting=True)
    assert statefulset.plan(sts(replicas=1), pods, "web-new", "web-new") == []
    assert steps(statefulset.plan(sts(replicas=1, policy="Parallel"), pods, "web-new", "web-new")) == [
        ("delete", 2, "scale-down"), ("delete", 1, "scale-down")]


def test_scale_down_waits_for_unhealthy_lower_pods_unless_it_is_the_unhealthy_one() -> None:
    pods = [pod(0), pod(1), pod(2, ready=False)]
    assert steps(statefulset.plan(sts(replicas=1), pods, "web-new", "web-new")) == [("delete", 2, "scale-down")]
    # web-2 unhealthy while web-1 is the first unhealthy pod: wait (web-1 would go first).
    pods = [pod(0), pod(1, ready=False), pod(2, ready=False)]
    assert statefulset.plan(sts(replicas=1), pods, "web-new", "web-new") == []
    # A retained replica that is unhealthy blocks every removal.
    pods = [pod(0, ready=False), pod(1), pod(2)]
    assert statefulset.plan(sts(replicas=1), pods, "web-new", "web-new") == []


def test_failed_pods_are_deleted_then_recreated_under_the_same_name() -> None:
    pods = [pod(0), pod(1, phase="Failed", ready=False)]
    assert steps(statefulset.plan(sts(), pods, "web-new", "web-new")) == [("delete", 1, "failed")]
    assert steps(statefulset.plan(sts(), [pod(0)], "web-new", "web-new")) == [("create", 1, "web-new")]


def test_labels_are_repaired() -> None:
    broken = pod(0)
    del broken["metadata"]["labels"][POD_INDEX_LABEL]
    assert steps(statefulset.plan(sts(replicas=1), [broken], "web-new", "web-new")) == [("fix", 0, "")]


# ---------------------------------------------------------------------- updates


def test_rolling_update_goes_from_the_highest_ordinal_down_to_the_partition() -> None:
    old = [pod(i, revision="web-old") for i in range(3)]
    assert steps(statefulset.plan(sts(), old, "web-old", "web-new")) == [("delete", 2, "update")]
    # web-2 replaced but not ready yet: wait.
    mid = [old[0], old[1], pod(2, ready=False)]
    assert statefulset.plan(sts(), mid, "web-old", "web-new") == []
    done2 = [old[0], old[1], pod(2)]
    assert steps(statefulset.plan(sts(), done2, "web-old", "web-new")) == [("delete", 1, "update")]
    # With partition 2 only ordinals >= 2 move.
    assert statefulset.plan(sts(partition=2), done2, "web-old", "web-new") == []


def test_replicas_below_the_partition_are_recreated_at_the_current_revision() -> None:
    pods = [pod(0, revision="web-old"), pod(2)]
    assert steps(statefulset.plan(sts(partition=2), pods, "web-old", "web-new")) == [("create", 1, "web-old")]
    assert steps(statefulset.plan(sts(partition=0), pods, "web-old", "web-new")) == [("create", 1, "web-new")]


def test_on_delete_never_deletes_for_an_update() -> None:
    old = [pod(i, revision="web-old") for i in range(3)]
    assert statefulset.plan(sts(strategy="OnDelete"), old, "web-old", "web-new") == []
    assert steps(statefulset.plan(sts(strategy="OnDelete"), old[:2], "web-old", "web-new")) == [
        ("create", 2, "web-new")]


def test_being_deleted_does_nothing() -> None:
    s = sts()
    s["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert statefulset.plan(s, [], "r", "r") == []


# ---------------------------------------------------------------------- status


def test_status_counts_and_a_finished_rollout_becomes_current() -> None:
    pods = [pod(0, revision="web-old"), pod(1), pod(2, ready=False)]
    status = statefulset.compute_status(sts(), pods, "web-old", "web-new", 0)
    assert status == {"replicas": 3, "readyReplicas": 2, "availableReplicas": 2, "currentReplicas": 1,
                      "updatedReplicas": 2, "observedGeneration": 2, "currentRevision": "web-old",
                      "updateRevision": "web-new", "collisionCount": 0}
    done = statefulset.compute_status(sts(), [pod(0), pod(1), pod(2)], "web-old", "web-new", 0)
    assert done["currentRevision"] == "web-new" and done["currentReplicas"] == 3


# ---------------------------------------------------------------------- retention policy


@pytest.mark.parametrize(("when_deleted", "when_scaled", "condemned", "owners"), [
    ("Retain", "Retain", False, []),
    ("Retain", "Retain", True, []),
    ("Delete", "Retain", False, ["StatefulSet"]),
    ("Delete", "Retain", True, ["StatefulSet"]),
    ("Retain", "Delete", False, []),
    ("Retain", "Delete", True, ["Pod"]),
    ("Delete", "Delete", False, ["StatefulSet"]),
    ("Delete", "Delete", True, ["Pod"]),
])
def test_claim_owners_follow_the_retention_policy(when_deleted: str, when_scaled: str, condemned: bool,
                                                  owners: list[str]) -> None:
    s = sts(retention={"whenDeleted": when_deleted, "whenScaled": when_scaled})
    foreign = {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "x"}
    stale = {"apiVersion": "v1", "kind": "Pod", "name": "web-1", "uid": "uid-web-1"}
    refs = statefulset.claim_owner_refs([foreign, stale], s, pod(1), condemned)
    assert refs[0] == foreign
    assert [r["kind"] for r in refs[1:]] == owners
