"""Models type API objects strictly, as Kubernetes' decoder does: no coercion, Go's integer bounds, IntOrString
as exactly an integer or a string, RFC 3339 times kept as the text sent."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kube.models import Event, Lease, Pod, apps, network


def pod(container: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i", **container}], **spec}}


def deployment(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "d"}, "spec": {"template": {}, **spec}}


def errors_of(model: Any, data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return [(e["loc"], e["type"]) for e in info.value.errors()]


@pytest.mark.parametrize(
    "value", ["3", True, 1.5], ids=["string", "bool", "fraction"])
def test_replicas_takes_only_an_integer(value: Any) -> None:
    assert errors_of(apps.Deployment, deployment(replicas=value)) == [(("spec", "replicas"), "int_type")]


@pytest.mark.parametrize("value", ["80", True, False], ids=["string", "true", "false"])
def test_container_port_is_not_coerced(value: Any) -> None:
    assert errors_of(Pod, pod({"ports": [{"containerPort": value}]}))[0][1] == "int_type"


@pytest.mark.parametrize(
    ("data", "loc"),
    [(pod({"tty": "true"}), ("spec", "containers", 0, "tty")),
     (pod({"tty": 1}), ("spec", "containers", 0, "tty")),
     (pod({}, hostNetwork="false"), ("spec", "hostNetwork"))],
    ids=["string-to-bool", "int-to-bool", "false-string"],
)
def test_booleans_are_not_coerced(data: dict[str, Any], loc: tuple[Any, ...]) -> None:
    assert [e[0] for e in errors_of(Pod, data)] == [loc]


@pytest.mark.parametrize(
    ("model", "data"),
    [(apps.Deployment, deployment(replicas=2**31)),
     (apps.Deployment, deployment(replicas=-(2**31) - 1)),
     (Pod, pod({"ports": [{"containerPort": 2**40}]})),
     (Pod, pod({}, priority=2**31)),
     (Pod, pod({}, terminationGracePeriodSeconds=2**63)),
     (Pod, pod({}, securityContext={"runAsUser": -(2**63) - 1})),
     (Pod, {"metadata": {"name": "p", "generation": 2**63}, "spec": {"containers": []}}),
     (network.Service, {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80, "nodePort": 2**32}]}})],
    ids=["int32-high", "int32-low", "containerPort", "priority", "int64-high", "int64-low", "generation",
         "nodePort"],
)
def test_integers_are_bounded_as_go_types(model: Any, data: dict[str, Any]) -> None:
    assert errors_of(model, data)[0][1] in ("less_than_equal", "greater_than_equal")


def test_integer_bounds_are_inclusive_and_int64_is_wider() -> None:
    assert apps.Deployment.model_validate(deployment(replicas=2**31 - 1)).spec.replicas == 2**31 - 1
    errors_of(apps.Deployment, deployment(replicas=2**31))
    spec = Pod.model_validate(pod({}, terminationGracePeriodSeconds=2**40, activeDeadlineSeconds=2**63 - 1)).spec
    assert (spec.termination_grace_period_seconds, spec.active_deadline_seconds) == (2**40, 2**63 - 1)


def test_only_a_json_integer_is_an_integer_and_null_is_unset() -> None:
    """Go's decoder refuses `3.0` for an int32 ("cannot unmarshal number 3.0"); YAML's 3.0 is made 3 earlier."""
    errors_of(apps.Deployment, deployment(replicas=3.0))
    assert "replicas" not in apps.Deployment.model_validate(deployment(replicas=None)).to_dict()["spec"]
    errors_of(apps.Deployment, deployment(replicas="3"))


@pytest.mark.parametrize("value", [True, 1.5, 1.0, {}, 2**31], ids=["bool", "fraction", "whole", "object", "big"])
def test_int_or_string_is_exactly_an_integer_or_a_string(value: Any) -> None:
    data = deployment(strategy={"rollingUpdate": {"maxSurge": value}})
    assert [e[0] for e in errors_of(apps.Deployment, data)] == [("spec", "strategy", "rollingUpdate", "maxSurge")]


def test_int_or_string_keeps_its_type() -> None:
    spec = apps.Deployment.model_validate(
        deployment(strategy={"rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}})).to_dict()["spec"]
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": "25%"}
    probe = {"httpGet": {"port": True}}
    assert errors_of(Pod, pod({"livenessProbe": probe}))[0][0] == (
        "spec", "containers", 0, "livenessProbe", "httpGet", "port")


@pytest.mark.parametrize(
    "stamp",
    ["garbage", "", "2024-01-01", "2024-01-01T00:00:00", "2024-01-01 00:00:00Z", "2024-02-30T00:00:00Z",
     "2024-01-01T24:00:00Z", "2024-01-01T00:00:00+25:00", "2024-01-01t00:00:00z",
     "\uff12\uff10\uff12\uff14-01-01T00:00:00Z"],
    ids=["garbage", "empty", "date", "no-zone", "space", "feb-30", "hour-24", "bad-offset", "lowercase",
         "wide-digits"],
)
def test_times_must_be_rfc3339(stamp: str) -> None:
    data = {"metadata": {"name": "e"}, "involvedObject": {"name": "p"}, "lastTimestamp": stamp}
    assert errors_of(Event, data) == [(("lastTimestamp",), "date_time_format")]


@pytest.mark.parametrize(
    ("model", "data"),
    [(Pod, {"metadata": {"name": "p", "creationTimestamp": "yesterday"}, "spec": {"containers": []}}),
     (Pod, {"metadata": {"name": "p"}, "spec": {"containers": []},
            "status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "now"}]}}),
     (Lease, {"metadata": {"name": "l"}, "spec": {"renewTime": "soon"}}),
     (Event, {"metadata": {"name": "e"}, "involvedObject": {}, "series": {"count": 2, "lastObservedTime": "x"}})],
    ids=["creationTimestamp", "lastTransitionTime", "lease-renewTime", "series"],
)
def test_every_time_field_is_checked(model: Any, data: dict[str, Any]) -> None:
    assert len(errors_of(model, data)) == 1


def test_times_are_checked_but_stay_the_text_sent() -> None:
    stamps = {"firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T02:00:00+02:00",
              "eventTime": "2024-01-01T00:00:00.123456Z"}
    event = Event.model_validate({"metadata": {"name": "e", "creationTimestamp": None}, "involvedObject": {},
                                  **stamps, "count": 3})
    assert {k: event.to_dict()[k] for k in stamps} == stamps
    errors_of(Event, {"metadata": {"name": "e"}, "involvedObject": {}, "eventTime": "2024-01-01"})
