"""What the apiserver refuses before a write, in Kubernetes' words: values of the wrong type as Go's decoder words
them (400, apiserver.registry.godecode), a missing field (422), the size limits on annotations and on
ConfigMap/Secret data, and core/v1 Events as Kubernetes validates them."""

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


def decode_error(resource: Any, obj: dict[str, Any]) -> str:
    with pytest.raises(errors.BadRequest) as info:
        strategy_for(resource).decode(obj)
    assert info.value.code == 400 and info.value.reason == "BadRequest"
    return info.value.message


@pytest.mark.parametrize(
    ("value", "shown"),
    [("3", "string"), (True, "bool"), (1.5, "number 1.5"), (3.0, "number 3.0"), (2**40, "number 1099511627776"),
     (-(2**31) - 1, "number -2147483649"), ({}, "object"), ([], "array")],
    ids=["string", "bool", "fraction", "integral-float", "too-big", "too-small", "object", "array"],
)
def test_replicas_type_errors_read_as_kubernetes_writes_them(value: Any, shown: str) -> None:
    """transformDecodeError's 400 around encoding/json's UnmarshalTypeError (Go struct, path, Go type)."""
    assert decode_error(DEPLOYMENTS, deployment(replicas=value)) == (
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal '
        f"{shown} into Go struct field DeploymentSpec.spec.replicas of type int32")


def test_the_first_error_in_the_body_is_the_one_reported() -> None:
    containers = [{"name": "c", "image": "i", "ports": [{"containerPort": "80"}, {"containerPort": True}],
                   "readinessProbe": {"tcpSocket": {"port": False}}}]
    assert decode_error(PODS, {"metadata": META, "spec": {"containers": containers}}).endswith(
        "json: cannot unmarshal string into Go struct field ContainerPort.spec.containers.ports.containerPort of "
        "type int32")
    containers = [{"name": "c", "image": "i", "readinessProbe": {"tcpSocket": {"port": False}}}]
    assert decode_error(PODS, {"metadata": META, "spec": {"containers": containers}}).endswith(
        "json: cannot unmarshal bool into Go struct field TCPSocketAction.spec.containers.readinessProbe.tcpSocket."
        "port of type int32")


def test_wrong_types_of_strings_objects_and_lists_are_named() -> None:
    assert decode_error(PODS, {"metadata": {**META, "labels": {"a": 1}}, "spec": {"containers": "c"}}).endswith(
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string")
    assert decode_error(PODS, {"metadata": META, "spec": {"containers": "c"}}).endswith(
        "json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container")
    assert decode_error(PODS, {"metadata": META, "spec": {"containers": [5]}}).endswith(
        "json: cannot unmarshal number into Go struct field PodSpec.spec.containers of type v1.Container")
    assert decode_error(DEPLOYMENTS, {"metadata": META, "spec": "x"}).endswith(
        "json: cannot unmarshal string into Go struct field Deployment.spec of type v1.DeploymentSpec")


def test_a_missing_required_field_is_validation_not_decoding() -> None:
    assert [c["field"] for c in refused(EVENTS, {"metadata": META}).causes] == ["involvedObject"]


def event(**fields: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p.1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}, **fields}


@pytest.mark.parametrize(
    ("value", "error"),
    [("garbage", 'parsing time "garbage" as "2006-01-02T15:04:05Z07:00": cannot parse "garbage" as "2006"'),
     ("2026-12-02 10:00:00Z", 'parsing time "2026-12-02 10:00:00Z" as "2006-01-02T15:04:05Z07:00": cannot parse '
                              '" 10:00:00Z" as "T"'),
     ("2026-13-01T00:00:00Z", 'parsing time "2026-13-01T00:00:00Z": month out of range'),
     ("2026-02-30T00:00:00Z", 'parsing time "2026-02-30T00:00:00Z": day out of range'),
     ("2026-02-03T00:00:00Zx", 'parsing time "2026-02-03T00:00:00Zx": extra text: "x"'),
     ("2026-02-03T00:00:00+0100", 'parsing time "2026-02-03T00:00:00+0100" as "2006-01-02T15:04:05Z07:00": cannot '
                                  'parse "+0100" as "Z07:00"'),
     (5, "json: cannot unmarshal number into Go struct field Event.lastTimestamp of type string")],
    ids=["garbage", "space", "month", "day", "extra", "zone", "number"],
)
def test_event_timestamps_are_parsed_as_go_parses_them(value: Any, error: str) -> None:
    """metav1.Time.UnmarshalJSON: time.Parse(time.RFC3339, ...) and its ParseError wording."""
    assert decode_error(EVENTS, event(lastTimestamp=value)) == (
        f'Event in version "v1" cannot be handled as a Event: {error}')


def test_event_count_is_typed() -> None:
    assert decode_error(EVENTS, event(count="1")).endswith(
        "json: cannot unmarshal string into Go struct field Event.count of type int32")
    assert decode_error(EVENTS, event(count=2**31)).endswith(
        "json: cannot unmarshal number 2147483648 into Go struct field Event.count of type int32")


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
