"""What the strategies make of a decoded object, field by field as Kubernetes would (no storage needed):
templates versus Pods, the status structs Go always writes, Go's base64 decoding, canonical quantities."""

from __future__ import annotations

import base64

import pytest

from apiserver.registry import strategy_for
from apiserver.registry.config import go_b64decode
from apiserver.registry.podspec import image_tag
from apiserver.registry.quantities import canonical
from kube import errors
from kube.resources import CRONJOBS, DAEMONSETS, DEPLOYMENTS, PODS, REPLICASETS, SECRETS, STATEFULSETS

META = {"name": "x", "namespace": "default"}
LIMITED = [{"name": "c", "image": "i:1", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]


def decode(resource, body):  # type: ignore[no-untyped-def]
    obj, _ = strategy_for(resource).decode({"metadata": META, **body})
    return obj


def workload(containers: list) -> dict:
    return {"spec": {"selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": containers}}}}


def test_only_a_pod_copies_limits_into_requests_and_enables_service_links() -> None:
    pod = decode(PODS, {"spec": {"containers": LIMITED}})["spec"]
    assert pod["containers"][0]["resources"] == {"limits": {"cpu": "1", "memory": "1Gi"},
                                                 "requests": {"cpu": "1", "memory": "1Gi"}}
    assert pod["enableServiceLinks"] is True
    template = decode(DEPLOYMENTS, workload(LIMITED))["spec"]["template"]["spec"]
    assert template["containers"][0]["resources"] == {"limits": {"cpu": "1", "memory": "1Gi"}}
    assert "enableServiceLinks" not in template
    assert template["securityContext"] == {} and template["schedulerName"] == "default-scheduler"


def test_a_container_always_has_resources() -> None:
    spec = decode(PODS, {"spec": {"containers": [{"name": "c", "image": "i"}]}})["spec"]
    assert spec["containers"][0]["resources"] == {}


@pytest.mark.parametrize(("resource", "status"), [
    (DEPLOYMENTS, {}), (REPLICASETS, {"replicas": 0}), (STATEFULSETS, {"replicas": 0, "availableReplicas": 0}),
    (DAEMONSETS, {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                  "numberReady": 0}),
])
def test_a_workload_is_created_with_its_zero_status(resource, status) -> None:  # type: ignore[no-untyped-def]
    strategy = strategy_for(resource)
    obj = decode(resource, {**workload([{"name": "c", "image": "i"}]), "status": {"replicas": 9}})
    strategy.prepare_for_create(obj)
    assert obj["status"] == status


def test_status_writes_keep_the_fields_go_always_writes() -> None:
    written = decode(STATEFULSETS, {**workload([{"name": "c", "image": "i"}]),
                                    "status": {"replicas": 0, "currentRevision": "r1"}})
    assert written["status"] == {"replicas": 0, "availableReplicas": 0, "currentRevision": "r1"}


def test_a_cronjob_job_template_gets_no_job_defaults() -> None:
    cj = decode(CRONJOBS, {"spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": {"spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}}})
    job_template = cj["spec"]["jobTemplate"]
    assert job_template["metadata"] == {} and job_template["spec"]["template"]["metadata"] == {}
    assert set(job_template["spec"]) == {"template"}
    assert strategy_for(CRONJOBS).validate(cj) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("aGVsbG8=", b"hello"), ("aGVs\nbG8=", b"hello"), ("aGV\r\nsbG8=\n", b"hello"), ("", b""), ("ab=\n=", b"i"),
    ("aGVsbG8", 4), ("a", 0), ("a===", 1), ("ab=", 3), ("aGVsbG8=x", 8), ("aGV*", 3),
])
def test_base64_is_decoded_as_go_decodes_it(text: str, expected: bytes | int) -> None:
    if isinstance(expected, bytes):
        assert go_b64decode(text) == expected
    else:
        with pytest.raises(ValueError) as err:
            go_b64decode(text)
        assert err.value.args[0] == expected  # Go's CorruptInputError offset


def test_secret_data_is_stored_unwrapped_and_bad_base64_is_a_bad_request() -> None:
    value = base64.b64encode(b"x" * 100).decode()
    wrapped = "\n".join(value[i:i + 76] for i in range(0, len(value), 76)) + "\n"
    assert decode(SECRETS, {"data": {"k": wrapped}})["data"] == {"k": value}
    with pytest.raises(errors.BadRequest, match="illegal base64 data at input byte 4"):
        decode(SECRETS, {"data": {"k": "aGVsbG8"}})


@pytest.mark.parametrize(("text", "milli", "expected"), [
    ("0.5", False, "500m"), ("1000", False, "1k"), ("1024Mi", False, "1Gi"), ("1.5Gi", False, "1536Mi"),
    ("100Mi", False, "100Mi"), ("1e3", False, "1e3"), ("1000m", False, "1"), ("0.5Ki", False, "512"),
    ("16318412Ki", False, "16318412Ki"), ("1000M", False, "1G"), ("0Mi", False, "0"), ("-1.5", False, "-1500m"),
    ("100n", False, "100n"), ("100n", True, "1m"), ("0.0001", True, "1m"), ("1.5e3", False, "1500"),
])
def test_quantities_are_canonical(text: str, milli: bool, expected: str) -> None:
    assert canonical(text, milli=milli) == expected


@pytest.mark.parametrize(("image", "tag"), [
    ("nginx", "latest"), ("nginx:1.25", "1.25"), ("reg:5000/nginx", "latest"), ("reg:5000/nginx:2", "2"),
    ("nginx@sha256:ab", ""), ("nginx:latest@sha256:ab", "latest"),
])
def test_image_tags_as_the_kubelet_parses_them(image: str, tag: str) -> None:
    assert image_tag(image) == tag
