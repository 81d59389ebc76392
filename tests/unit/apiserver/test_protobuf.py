"""Protobuf request bodies (`apiserver.protobuf`): the kinds kubectl's create generators send, and the rest.

Aspects covered:
* bodies built here with a small hand-written encoder (field numbers typed in from Kubernetes' generated.proto,
  never read from the table under test) decode to the dict a JSON client would send;
* Go pointer fields keep their zero value (`suspend: false`, `replicas: 0`), plain zero scalars are dropped;
* nested templates (CronJob -> JobTemplateSpec -> PodTemplateSpec -> PodSpec -> Container), Go-embedded
  structs (a PersistentVolume's source), maps of quantities, RawExtension payloads, MicroTime;
* the envelope: a kind under an apiVersion it is not registered for is refused, not guessed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from apiserver import protobuf
from kube import errors

# ---------------------------------------------------------------------------------------------------------------
# A minimal protobuf encoder: varints and length-delimited fields are all Kubernetes objects need
# ---------------------------------------------------------------------------------------------------------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int32/int64 travel as 10-byte two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def num(field: int, value: int) -> bytes:
    """A varint field (int32, int64, bool)."""
    return varint(field << 3) + varint(value)


def ld(field: int, *parts: bytes | str) -> bytes:
    """A length-delimited field: a string, bytes, or a nested message given as its encoded fields."""
    payload = b"".join(p.encode() if isinstance(p, str) else p for p in parts)
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def entry(field: int, key: str, value: bytes | str) -> bytes:
    """One map<string, T> entry: a message {1: key, 2: value}."""
    return ld(field, ld(1, key), ld(2, value))


def quantity(text: str) -> bytes:
    """resource.Quantity {string = 1}: used as a map value or a message field."""
    return ld(1, text)


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    """`k8s\\x00` + runtime.Unknown{typeMeta{apiVersion=1, kind=2}=1, raw=2, contentEncoding=3, contentType=4}."""
    return protobuf.MAGIC + ld(1, ld(1, api_version), ld(2, kind)) + ld(2, raw) + ld(3, "") + ld(4, "")


ZERO_TIME = ld(8)  # ObjectMeta.creationTimestamp: Go always writes it; the zero Time is an empty message


def meta(name: str, *more: bytes) -> bytes:
    """ObjectMeta{name=1, creationTimestamp=8, ...}: field 1 of every top-level kind."""
    return ld(1, ld(1, name), ZERO_TIME, *more)


def decode(api_version: str, kind: str, *fields: bytes) -> dict[str, Any]:
    return protobuf.decode(envelope(api_version, kind, b"".join(fields)))


# ---------------------------------------------------------------------------------------------------------------
# batch/v1
# ---------------------------------------------------------------------------------------------------------------


def pod_template(container_name: str, *spec_extra: bytes) -> bytes:
    """PodTemplateSpec{metadata=1, spec=2{containers=2, ...}} as kubectl builds it, zero scalars included."""
    container = ld(2, ld(1, container_name), ld(2, "busybox"), ld(3, "echo"), ld(3, "hi"), ld(8),
                   ld(13, ""), num(16, 0), num(18, 0))
    return ld(1, ZERO_TIME) + ld(2, container, ld(6, ""), num(11, 0), *spec_extra)


def test_cronjob_as_kubectl_create_cronjob_sends_it() -> None:
    job_spec = ld(6, pod_template("c", ld(3, "OnFailure")))
    cronjob_spec = ld(2, ld(1, "*/5 * * * *"), ld(3, ""), ld(5, ld(1, ld(1, "c"), ZERO_TIME), ld(2, job_spec)))
    obj = decode("batch/v1", "CronJob", meta("c"), cronjob_spec, ld(3))
    assert obj == {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
        "spec": {
            "schedule": "*/5 * * * *",
            "jobTemplate": {"metadata": {"name": "c"}, "spec": {"template": {"metadata": {}, "spec": {
                "containers": [{"name": "c", "image": "busybox", "command": ["echo", "hi"], "resources": {}}],
                "restartPolicy": "OnFailure"}}}},
        },
        "status": {},
    }


def test_cronjob_pointer_fields_keep_their_zero_values() -> None:
    spec = ld(2, ld(1, "@hourly"), num(4, 0), num(2, 0), num(6, 0), num(7, 0), ld(8, "Etc/UTC"), ld(3, "Forbid"),
              ld(5, ld(2, ld(6, pod_template("x", ld(3, "Never"))))))
    cronjob = decode("batch/v1", "CronJob", meta("c"), spec)["spec"]
    assert cronjob["suspend"] is False
    assert (cronjob["startingDeadlineSeconds"], cronjob["successfulJobsHistoryLimit"],
            cronjob["failedJobsHistoryLimit"]) == (0, 0, 0)
    assert cronjob["timeZone"] == "Etc/UTC" and cronjob["concurrencyPolicy"] == "Forbid"
    assert cronjob["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_job_from_a_cronjob_keeps_owner_reference_annotation_and_pointer_zeros() -> None:
    owner = ld(13, ld(5, "batch/v1"), ld(1, "CronJob"), ld(3, "c"), ld(4, "uid-1"), num(6, 1))
    annotations = entry(12, "cronjob.kubernetes.io/instantiate", "manual")
    spec = ld(2, num(1, 1), num(2, 1), num(7, 6), num(10, 0), num(8, 0), ld(9, "NonIndexed"),
              ld(14, "TerminatingOrFailed"), num(3, -1), ld(6, pod_template("c", ld(3, "OnFailure"))))
    status = ld(3, ld(2), num(4, 0), ld(7, ""))
    obj = decode("batch/v1", "Job", meta("j", annotations, owner), spec, status)
    assert obj["metadata"] == {
        "name": "j", "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "c", "uid": "uid-1",
                             "controller": True}],
    }
    spec_out = obj["spec"]
    assert spec_out["suspend"] is False and spec_out["ttlSecondsAfterFinished"] == 0
    assert (spec_out["parallelism"], spec_out["completions"], spec_out["backoffLimit"]) == (1, 1, 6)
    assert spec_out["activeDeadlineSeconds"] == -1  # a negative int64 is a 10-byte varint
    assert spec_out["completionMode"] == "NonIndexed" and spec_out["podReplacementPolicy"] == "TerminatingOrFailed"
    assert "manualSelector" not in spec_out and "selector" not in spec_out
    assert obj["status"] == {}  # zero startTime, active 0 and completedIndexes "" are all dropped


def test_job_pod_failure_and_success_policies() -> None:
    exit_codes = ld(2, ld(1, "main"), ld(2, "In"), num(3, 1), num(3, 42))
    on_conditions = ld(3, ld(1, "DisruptionTarget"), ld(2, "True"))
    spec = ld(2, ld(11, ld(1, ld(1, "FailJob"), exit_codes), ld(1, ld(1, "Ignore"), on_conditions)),
              ld(16, ld(1, ld(1, "0-2"), num(2, 2))), num(12, 0), num(13, 1), ld(15, "example.com/ctl"))
    out = decode("batch/v1", "Job", meta("j"), spec)["spec"]
    assert out["podFailurePolicy"] == {"rules": [
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [1, 42]}},
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
    ]}
    assert out["successPolicy"] == {"rules": [{"succeededIndexes": "0-2", "succeededCount": 2}]}
    assert (out["backoffLimitPerIndex"], out["maxFailedIndexes"], out["managedBy"]) == (0, 1, "example.com/ctl")


def test_packed_repeated_int32_is_read_too() -> None:
    exit_codes = ld(2, ld(2, "NotIn"), ld(3, varint(3) + varint(4)))  # proto3-style packed values
    spec = ld(2, ld(11, ld(1, ld(1, "Count"), exit_codes)))
    rule = decode("batch/v1", "Job", meta("j"), spec)["spec"]["podFailurePolicy"]["rules"][0]
    assert rule["onExitCodes"] == {"operator": "NotIn", "values": [3, 4]}


# ---------------------------------------------------------------------------------------------------------------
# rbac.authorization.k8s.io/v1
# ---------------------------------------------------------------------------------------------------------------

RBAC = "rbac.authorization.k8s.io/v1"


def test_rolebinding_role_ref_and_subjects() -> None:
    role_ref = ld(3, ld(1, "rbac.authorization.k8s.io"), ld(2, "ClusterRole"), ld(3, "view"))
    user = ld(2, ld(1, "User"), ld(2, "rbac.authorization.k8s.io"), ld(3, "alice"), ld(4, ""))
    service_account = ld(2, ld(1, "ServiceAccount"), ld(2, ""), ld(3, "sa"), ld(4, "ns"))
    obj = decode(RBAC, "RoleBinding", meta("rb"), user, service_account, role_ref)
    assert obj["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
    assert obj["subjects"] == [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
                               {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]


def test_role_ref_api_group_is_kept_when_empty_as_json_writes_it() -> None:
    obj = decode(RBAC, "ClusterRoleBinding", meta("crb"), ld(3, ld(1, ""), ld(2, "ClusterRole"), ld(3, "edit")))
    assert obj["roleRef"] == {"apiGroup": "", "kind": "ClusterRole", "name": "edit"}


def test_role_rules_keep_the_core_group_as_an_empty_string() -> None:
    rule = ld(2, ld(1, "get"), ld(1, "list"), ld(2, ""), ld(3, "pods"), ld(4, "x"))
    obj = decode(RBAC, "Role", meta("r"), rule)
    assert obj["rules"] == [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"],
                             "resourceNames": ["x"]}]


def test_clusterrole_non_resource_urls_and_aggregation_rule() -> None:
    rule = ld(2, ld(1, "get"), ld(5, "/logs/*"))
    aggregation = ld(3, ld(1, entry(1, "rbac.example.com/aggregate", "true")))
    obj = decode(RBAC, "ClusterRole", meta("cr"), rule, aggregation)
    assert obj["rules"] == [{"verbs": ["get"], "nonResourceURLs": ["/logs/*"]}]
    assert obj["aggregationRule"] == {"clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate": "true"}}]}


# ---------------------------------------------------------------------------------------------------------------
# core/v1, scheduling, storage, coordination, autoscaling
# ---------------------------------------------------------------------------------------------------------------


def test_priorityclass_value_zero_is_kept_and_empty_strings_dropped() -> None:
    obj = decode("scheduling.k8s.io/v1", "PriorityClass", meta("pc"), num(2, 0), num(3, 0), ld(4, ""),
                 ld(5, "Never"))
    assert obj == {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "pc"},
                   "value": 0, "preemptionPolicy": "Never"}
    high = decode("scheduling.k8s.io/v1", "PriorityClass", meta("hi"), num(2, 1000), num(3, 1), ld(4, "high"))
    assert (high["value"], high["globalDefault"], high["description"]) == (1000, True, "high")


def test_resourcequota_hard_quantities_and_scopes() -> None:
    spec = ld(2, entry(1, "cpu", quantity("1")), entry(1, "memory", quantity("1G")), entry(1, "pods", quantity("2")),
              ld(2, "BestEffort"), ld(3, ld(1, ld(1, "PriorityClass"), ld(2, "In"), ld(3, "high"))))
    obj = decode("v1", "ResourceQuota", meta("q"), spec, ld(3))
    assert obj["spec"] == {"hard": {"cpu": "1", "memory": "1G", "pods": "2"}, "scopes": ["BestEffort"],
                           "scopeSelector": {"matchExpressions": [
                               {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}
    assert obj["status"] == {}


def test_serviceaccount_automount_false_is_kept() -> None:
    obj = decode("v1", "ServiceAccount", meta("sa"), ld(2, ld(3, "sa-token"), ld(1, "Secret")), ld(3, ld(1, "reg")),
                 num(4, 0))
    assert obj["secrets"] == [{"name": "sa-token", "kind": "Secret"}]
    assert obj["imagePullSecrets"] == [{"name": "reg"}] and obj["automountServiceAccountToken"] is False


def test_limitrange_and_endpoints() -> None:
    item = ld(1, ld(1, "Container"), entry(2, "cpu", quantity("2")), entry(4, "memory", quantity("256Mi")),
              entry(5, "memory", quantity("128Mi")))
    limits = decode("v1", "LimitRange", meta("lr"), ld(2, item))
    assert limits["spec"] == {"limits": [{"type": "Container", "max": {"cpu": "2"}, "default": {"memory": "256Mi"},
                                          "defaultRequest": {"memory": "128Mi"}}]}
    address = ld(1, ld(1, "10.0.0.5"), ld(4, "node-1"), ld(2, ld(1, "Pod"), ld(3, "web-0"), ld(2, "default")))
    port = ld(3, ld(1, "http"), num(2, 8080), ld(3, "TCP"))
    endpoints = decode("v1", "Endpoints", meta("web"), ld(2, address, port))
    assert endpoints["subsets"] == [{
        "addresses": [{"ip": "10.0.0.5", "nodeName": "node-1",
                       "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "default"}}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]


def test_persistentvolume_inlines_its_source_and_keeps_pointer_strings() -> None:
    source = ld(2, ld(3, ld(1, "/data/pv1"), ld(2, "")))  # PersistentVolumeSource{hostPath{path, type=""}}
    spec = ld(2, entry(1, "storage", quantity("5Gi")), source, ld(3, "ReadWriteOnce"), ld(5, "Retain"),
              ld(6, "manual"), ld(8, "Filesystem"), ld(4, ld(1, "PersistentVolumeClaim"), ld(3, "c1")))
    obj = decode("v1", "PersistentVolume", meta("pv1"), spec)
    assert obj["spec"] == {"capacity": {"storage": "5Gi"}, "hostPath": {"path": "/data/pv1", "type": ""},
                           "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
                           "storageClassName": "manual", "volumeMode": "Filesystem",
                           "claimRef": {"kind": "PersistentVolumeClaim", "name": "c1"}}
    csi = ld(2, ld(2, ld(22, ld(1, "csi.example.com"), ld(2, "vol-1"), entry(5, "tier", "gold"),
                         ld(10, ld(1, "expand"), ld(2, "kube-system")))))
    assert decode("v1", "PersistentVolume", meta("pv2"), csi)["spec"]["csi"] == {
        "driver": "csi.example.com", "volumeHandle": "vol-1", "volumeAttributes": {"tier": "gold"},
        "nodeExpandSecretRef": {"name": "expand", "namespace": "kube-system"}}


def test_persistentvolumeclaim_empty_storage_class_pointer_is_kept() -> None:
    spec = ld(2, ld(1, "ReadWriteOnce"), ld(2, entry(2, "storage", quantity("1Gi"))), ld(5, ""), ld(3, ""),
              ld(7, ld(1, "snapshot.storage.k8s.io"), ld(2, "VolumeSnapshot"), ld(3, "snap")))
    obj = decode("v1", "PersistentVolumeClaim", meta("data"), spec)
    assert obj["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                           "storageClassName": "",
                           "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot",
                                          "name": "snap"}}


def test_storageclass() -> None:
    topology = ld(8, ld(1, ld(1, "topology.kubernetes.io/zone"), ld(2, "a"), ld(2, "b")))
    obj = decode("storage.k8s.io/v1", "StorageClass", meta("fast"), ld(2, "kubelite.io/hostpath"),
                 entry(3, "type", "ssd"), ld(4, "Delete"), num(6, 0), ld(7, "WaitForFirstConsumer"), topology)
    assert {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")} == {
        "provisioner": "kubelite.io/hostpath", "parameters": {"type": "ssd"}, "reclaimPolicy": "Delete",
        "allowVolumeExpansion": False, "volumeBindingMode": "WaitForFirstConsumer",
        "allowedTopologies": [{"matchLabelExpressions": [{"key": "topology.kubernetes.io/zone",
                                                          "values": ["a", "b"]}]}]}


def test_lease_micro_time_and_zero_transitions() -> None:
    renew = ld(4, num(1, 1_700_000_000), num(2, 123_456_000))
    obj = decode("coordination.k8s.io/v1", "Lease", meta("node-1"),
                 ld(2, ld(1, "node-1"), num(2, 40), renew, num(5, 0), ld(3)))
    assert obj["spec"] == {"holderIdentity": "node-1", "leaseDurationSeconds": 40,
                           "renewTime": "2023-11-14T22:13:20.123456Z", "leaseTransitions": 0}


def test_scale_to_zero_drops_replicas_as_json_omitempty_does() -> None:
    obj = decode("autoscaling/v1", "Scale", meta("web"), ld(2, num(1, 0)), ld(3, num(1, 3), ld(2, "app=web")))
    assert obj["spec"] == {} and obj["status"] == {"replicas": 3, "selector": "app=web"}
    assert decode("autoscaling/v1", "Scale", meta("web"), ld(2, num(1, 5)))["spec"] == {"replicas": 5}


# ---------------------------------------------------------------------------------------------------------------
# apps/v1
# ---------------------------------------------------------------------------------------------------------------


def selector(**labels: str) -> bytes:
    return b"".join(entry(1, k, v) for k, v in labels.items())


def test_statefulset_with_claim_templates_and_pointer_zeros() -> None:
    claim = ld(4, meta("data"), ld(2, ld(1, "ReadWriteOnce"), ld(2, entry(2, "storage", quantity("1Gi")))))
    strategy = ld(7, ld(1, "RollingUpdate"), ld(2, num(1, 0), ld(2, num(1, 1), ld(3, "50%"))))
    spec = ld(2, num(1, 0), ld(2, selector(app="db")), ld(3, pod_template("db")), claim, ld(5, "db"), ld(6, ""),
              strategy, num(8, 10), num(9, 0), ld(10, ld(1, "Delete"), ld(2, "Retain")), ld(11, num(1, 0)))
    out = decode("apps/v1", "StatefulSet", meta("db"), spec)["spec"]
    assert out["replicas"] == 0 and out["serviceName"] == "db" and out["revisionHistoryLimit"] == 10
    assert "podManagementPolicy" not in out and "minReadySeconds" not in out
    assert out["selector"] == {"matchLabels": {"app": "db"}}
    assert out["volumeClaimTemplates"] == [{"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    assert out["updateStrategy"] == {"type": "RollingUpdate",
                                     "rollingUpdate": {"partition": 0, "maxUnavailable": "50%"}}
    assert out["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Delete", "whenScaled": "Retain"}
    assert out["ordinals"] == {"start": 0}
    assert out["template"]["spec"]["containers"][0]["image"] == "busybox"


def test_daemonset_update_strategy() -> None:
    strategy = ld(3, ld(1, "RollingUpdate"), ld(2, ld(1, num(1, 0), num(2, 1)), ld(2, num(1, 0), num(2, 0))))
    spec = ld(2, ld(1, selector(app="agent")), ld(2, pod_template("agent")), strategy, num(4, 0), num(6, 0))
    out = decode("apps/v1", "DaemonSet", meta("agent"), spec, ld(3, num(1, 0), num(4, 0)))
    assert out["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1,
                                                                                        "maxSurge": 0}}
    assert out["spec"]["revisionHistoryLimit"] == 0 and "minReadySeconds" not in out["spec"]
    assert out["status"] == {}


def test_controllerrevision_data_is_the_embedded_json_and_revision_zero_is_kept() -> None:
    data = {"spec": {"template": {"$patch": "replace", "spec": {"containers": [{"name": "c"}]}}}}
    obj = decode("apps/v1", "ControllerRevision", meta("db-1"), ld(2, ld(1, json.dumps(data))), num(3, 0))
    assert obj["data"] == data and obj["revision"] == 0


def test_controllerrevision_data_may_be_an_enveloped_protobuf_object() -> None:
    inner = envelope("v1", "ConfigMap", meta("cm") + entry(2, "k", "v"))
    obj = decode("apps/v1", "ControllerRevision", meta("r"), ld(2, ld(1, inner)), num(3, 2))
    assert obj["data"] == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"k": "v"}}
    assert "data" not in decode("apps/v1", "ControllerRevision", meta("r"), ld(2), num(3, 1))  # empty raw: null


def test_controllerrevision_data_that_is_neither_json_nor_protobuf_is_a_bad_request() -> None:
    with pytest.raises(errors.BadRequest, match="RawExtension"):
        decode("apps/v1", "ControllerRevision", meta("r"), ld(2, ld(1, "{not json")), num(3, 1))


def test_raw_extensions_nested_in_each_other_are_bounded() -> None:
    body = meta("r")
    for _ in range(protobuf._MAX_DEPTH + 5):
        body = meta("r") + ld(2, ld(1, envelope("apps/v1", "ControllerRevision", body)))
    with pytest.raises(errors.BadRequest, match="nested too deeply"):
        decode("apps/v1", "ControllerRevision", body)


# ---------------------------------------------------------------------------------------------------------------
# The envelope and the table
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("api_version", "kind"), [
    ("batch/v1beta1", "CronJob"), ("rbac.authorization.k8s.io/v1beta1", "Role"), ("v1", "Job"),
    ("scheduling.k8s.io/v1alpha1", "PriorityClass"), ("policy/v1", "PodDisruptionBudget"),
], ids=["old-cronjob", "old-rbac", "job-in-core", "old-priorityclass", "unknown-kind"])
def test_a_kind_outside_its_registered_versions_is_unsupported(api_version: str, kind: str) -> None:
    with pytest.raises(errors.UnsupportedMediaType, match="cannot decode"):
        decode(api_version, kind, meta("x"))


@pytest.mark.parametrize(("kind", "api_version"), [
    ("Job", "batch/v1"), ("CronJob", "batch/v1"), ("ServiceAccount", "v1"), ("ResourceQuota", "v1"),
    ("PriorityClass", "scheduling.k8s.io/v1"), ("Role", RBAC), ("ClusterRole", RBAC), ("RoleBinding", RBAC),
    ("ClusterRoleBinding", RBAC), ("DaemonSet", "apps/v1"), ("StatefulSet", "apps/v1"),
    ("ControllerRevision", "apps/v1"), ("Endpoints", "v1"), ("PersistentVolume", "v1"),
    ("PersistentVolumeClaim", "v1"), ("LimitRange", "v1"), ("StorageClass", "storage.k8s.io/v1"),
    ("Scale", "autoscaling/v1"), ("Lease", "coordination.k8s.io/v1"),
])
def test_every_new_kind_is_registered_under_its_group_version(kind: str, api_version: str) -> None:
    message, versions = protobuf.KINDS[kind]
    assert message in protobuf.SCHEMAS and versions == frozenset({api_version})
    assert protobuf.SCHEMAS[message][1] == ("metadata", "ObjectMeta")
    assert decode(api_version, kind, meta("x"))["metadata"] == {"name": "x"}


def test_unknown_fields_of_new_messages_are_skipped() -> None:
    obj = decode("batch/v1", "CronJob", meta("c"), ld(2, ld(1, "@daily"), ld(99, "future"), num(98, 7)))
    assert obj["spec"] == {"schedule": "@daily"}
