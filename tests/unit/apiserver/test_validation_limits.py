"""What the apiserver refuses before a write, in Kubernetes' words: type errors with field paths (422), the size
limits on annotations and on ConfigMap/Secret data, and core/v1 Events as Kubernetes validates them."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from apiserver.registry import strategy_for
from kube import errors
from kube.resources import CONFIGMAPS, DEPLOYMENTS, EVENTS, PODS, SECRETS

META = {"name": "x", "namespace": "default"}


def refused(resource: Any, obj: dict[str, Any]) -> errors.Invalid:
    with pytest.raises(errors.Invalid) as info:
        strategy_for(resource).decode(obj)
    assert info.value.code == 422
    return info.value


def messages(resource: Any, obj: dict[str, Any]) -> dict[str, str]:
    return {c["field"]: c["message"] for c in refused(resource, obj).causes}


def deployment(**spec: Any) -> dict[str, Any]:
    return {"metadata": META, "spec": {"selector": {"matchLabels": {"a": "b"}},
                                       "template": {"metadata": {"labels": {"a": "b"}}, "spec": {
                                           "containers": [{"name": "c", "image": "i"}]}}, **spec}}


@pytest.mark.parametrize(
    ("value", "message"),
    [("3", 'Invalid value: "string": spec.replicas in body must be of type integer: "string"'),
     (True, 'Invalid value: "boolean": spec.replicas in body must be of type integer: "boolean"'),
     (1.5, 'Invalid value: "number": spec.replicas in body must be of type integer: "number"'),
     (2**40, "Invalid value: 1099511627776: spec.replicas in body should be less than or equal to 2147483647"),
     (-(2**31) - 1, "Invalid value: -2147483649: spec.replicas in body should be greater than or equal to "
                    "-2147483648")],
    ids=["string", "bool", "fraction", "too-big", "too-small"],
)
def test_replicas_type_errors_read_as_kubernetes_writes_them(value: Any, message: str) -> None:
    error = refused(DEPLOYMENTS, deployment(replicas=value))
    assert [(c["reason"], c["field"], c["message"]) for c in error.causes] == [
        ("FieldValueInvalid", "spec.replicas", message)]
    assert error.message == f'Deployment.apps "x" is invalid: spec.replicas: {message}'


def test_container_port_and_int_or_string_errors() -> None:
    containers = [{"name": "c", "image": "i", "ports": [{"containerPort": "80"}, {"containerPort": True}],
                   "readinessProbe": {"tcpSocket": {"port": False}}}]
    found = messages(PODS, {"metadata": META, "spec": {"containers": containers}})
    port = "spec.containers[0].ports[{}].containerPort"
    probe = "spec.containers[0].readinessProbe.tcpSocket.port"
    assert found == {
        port.format(0): f'Invalid value: "string": {port.format(0)} in body must be of type integer: "string"',
        port.format(1): f'Invalid value: "boolean": {port.format(1)} in body must be of type integer: "boolean"',
        probe: f'Invalid value: "boolean": {probe} in body must be of type integer or string: "boolean"',
    }


def test_wrong_types_of_strings_objects_and_lists_are_named() -> None:
    found = messages(PODS, {"metadata": {**META, "labels": {"a": 1}}, "spec": {"containers": "c"}})
    assert found == {
        "metadata.labels.a": 'Invalid value: "integer": metadata.labels.a in body must be of type string: "integer"',
        "spec.containers": 'Invalid value: "string": spec.containers in body must be of type array: "string"',
    }


def event(**fields: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p.1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}, **fields}


def test_event_timestamps_and_count_are_typed() -> None:
    found = messages(EVENTS, event(lastTimestamp="garbage", count="1"))
    assert found == {
        "lastTimestamp": 'Invalid value: "garbage": lastTimestamp in body must be of type date-time: "garbage"',
        "count": 'Invalid value: "string": count in body must be of type integer: "string"',
    }
    assert "count" in messages(EVENTS, event(count=2**31))


def annotated(annotations: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {**META, "annotations": annotations}, "data": {}}


def test_annotations_are_limited_to_256_kib_of_keys_and_values() -> None:
    strategy = strategy_for(CONFIGMAPS)
    limit = 256 * 1024
    assert strategy.validate(annotated({"k": "v" * (limit - 1)})) == []
    assert strategy.validate(annotated({"k": "v" * limit})) == [
        {"reason": "FieldValueTooLong", "field": "metadata.annotations",
         "message": "Too long: must have at most 262144 bytes"}]
    # bytes, not characters: "é" is two
    assert strategy.validate(annotated({"k": "é" * (limit // 2)})) != []


def configmap(data: dict[str, str], binary: dict[str, bytes] | None = None) -> dict[str, Any]:
    encoded = {k: base64.b64encode(v).decode() for k, v in (binary or {}).items()}
    return {"metadata": META, "data": data, "binaryData": encoded}


def test_configmap_and_secret_values_are_limited_to_1_mib() -> None:
    strategy = strategy_for(CONFIGMAPS)
    mib = 1024 * 1024
    assert strategy.validate(configmap({"a": "x" * (mib // 2)}, {"b": b"\0" * (mib // 2)})) == []  # keys not counted
    too_long = {"reason": "FieldValueTooLong", "field": "", "message": "Too long: must have at most 1048576 bytes"}
    assert strategy.validate(configmap({"a": "x" * (mib // 2)}, {"b": b"\0" * (mib // 2 + 1)})) == [too_long]
    assert strategy.validate(configmap({"a": "é" * (mib // 2 + 1)})) == [too_long]

    secrets = strategy_for(SECRETS)

    def secret(size: int) -> dict[str, Any]:
        decoded, _ = secrets.decode({"metadata": META, "stringData": {"a": "x" * size}})
        return decoded

    assert secrets.validate(secret(mib)) == []  # decoded bytes count, not base64
    assert secrets.validate(secret(mib + 1)) == [
        {"reason": "FieldValueTooLong", "field": "data", "message": "Too long: must have at most 1048576 bytes"}]


def event_causes(obj: dict[str, Any]) -> list[tuple[str, str]]:
    decoded, _ = strategy_for(EVENTS).decode(obj)
    return [(c["field"], c["message"]) for c in strategy_for(EVENTS).validate(decoded)]


def test_an_old_style_event_must_sit_in_its_objects_namespace() -> None:
    assert event_causes(event(reason="Started", type="Anything")) == []  # core/v1 does not check type
    node_event = event()
    node_event["involvedObject"] = {"kind": "Node", "name": "n"}
    assert event_causes(node_event) == []  # a cluster-scoped object's event may sit in "default"
    elsewhere = event()
    elsewhere["involvedObject"]["namespace"] = "other"
    assert event_causes(elsewhere) == [
        ("involvedObject.namespace", 'Invalid value: "other": does not match event.namespace')]
    node_event["metadata"]["namespace"] = "other"
    assert event_causes(node_event) == [
        ("involvedObject.namespace", 'Invalid value: "": does not match event.namespace')]


def test_a_new_style_event_names_its_reporter_action_and_reason_within_limits() -> None:
    stamp = "2024-01-01T00:00:00.000000Z"
    assert event_causes(event(eventTime=stamp)) == [
        ("reportingComponent", "Required value"), ("reportingInstance", "Required value"),
        ("action", "Required value"), ("reason", "Required value")]
    good = event(eventTime=stamp, reportingComponent="kubelet", reportingInstance="node-1", action="Start",
                 reason="Started", message="m" * 1024)
    assert event_causes(good) == []
    long = {**good, "reason": "r" * 129, "message": "m" * 1025, "reportingComponent": "not a name"}
    assert [field for field, _ in event_causes(long)] == ["reportingComponent", "reason", "message"]
    assert dict(event_causes(long))["message"] == 'Invalid value: "": can have at most 1024 characters'
